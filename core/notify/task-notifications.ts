// Notifications built from records, the same way in every process, so their keys match across replicas:
// a task that ended halted, failed or cancelled; a node that ended DEAD (its work item is in a dead-letter
// queue); a grant held past its grace.
import type { Grant } from '../grants/grant-view.js';
import type { NodeRecord, TaskRecord } from '../task/task.js';
import type { Notification } from './notification.js';

const TASK_KIND = { halted: 'task_halted', failed: 'task_failed', cancelled: 'task_cancelled' } as const;

/** The notification for a task that ended badly, or undefined. Keyed by its end time: a resumed task that halts again is a new event. */
export function taskEndNotification(t: TaskRecord): Notification | undefined {
  if (t.state !== 'halted' && t.state !== 'failed' && t.state !== 'cancelled') return undefined;
  const at = t.endedAt ?? t.cancelled?.at ?? t.updatedAt;
  const cluster = String(t.spec.cluster);
  const why = t.state === 'cancelled' ? `cancelled by ${t.cancelled?.by ?? 'someone'}` : `${t.state}${t.reason ? `: ${t.reason}` : ''}`;
  return {
    kind: TASK_KIND[t.state],
    key: `${TASK_KIND[t.state]}.${t.taskId}.${at}`,
    severity: t.state === 'cancelled' ? 'warning' : 'critical',
    summary: `task ${t.taskId} (${String(t.spec.action)} on ${cluster}) ${why}`,
    at,
    cluster,
    taskId: t.taskId,
    details: { action: t.spec.action, state: t.state, reason: t.reason ?? null, emitted_by: `${t.emittedBy.kind}:${t.emittedBy.user}`, targets: t.targetCount },
  };
}

/**
 * A node's work item reached a dead-letter queue. Keyed by task, node and attempts, which the runner that
 * dead-letters it and a router that later sees the DEAD record both know.
 */
export function deadLetterNotification(e: { taskId: string; node: string; cluster: string; attempts: number; reason: string; at: string }): Notification {
  return {
    kind: 'dead_letter',
    key: `dead_letter.${e.taskId}.${e.node}.${e.attempts}`,
    severity: 'critical',
    summary: `${e.node} of task ${e.taskId} is dead-lettered after ${e.attempts} attempt(s): ${e.reason}`,
    at: e.at,
    cluster: e.cluster,
    taskId: e.taskId,
    node: e.node,
    details: { attempts: e.attempts, reason: e.reason },
  };
}

export function deadNodeNotification(t: TaskRecord, n: NodeRecord): Notification {
  return deadLetterNotification({ taskId: t.taskId, node: n.node, cluster: String(t.spec.cluster), attempts: n.attempts, reason: n.error ?? n.reason ?? 'dead', at: n.endedAt ?? n.updatedAt });
}

/** A message that could not be parsed or routed at all: keyed by its queue message id. */
export function rejectedMessageNotification(e: { messageId: string; reason: string; taskId?: string; queue: string }): Notification {
  return {
    kind: 'dead_letter',
    key: `dead_letter.msg.${e.messageId}`,
    severity: 'critical',
    summary: `a message was dead-lettered in ${e.queue}${e.taskId ? ` (task ${e.taskId})` : ''}: ${e.reason}`,
    at: new Date().toISOString(),
    ...(e.taskId ? { taskId: e.taskId } : {}),
    details: { queue: e.queue, message_id: e.messageId, reason: e.reason },
  };
}

export function grantOverdueNotification(cluster: string, g: Grant, graceMs: number, now: number): Notification {
  const heldMin = Math.round((now - Date.parse(g.since)) / 60_000);
  return {
    kind: 'grant_overdue',
    key: `grant_overdue.${cluster}.${g.node}.${g.token}`,
    severity: 'warning',
    summary: `${g.node} of ${cluster} has held its grant for ${heldMin} min (grace ${Math.round(graceMs / 60_000)} min), task ${g.taskId}`,
    at: new Date(now).toISOString(),
    cluster,
    taskId: g.taskId,
    node: g.node,
    details: { since: g.since, held_ms: now - Date.parse(g.since), grace_ms: graceMs, token: g.token },
  };
}

export function fireMissedNotification(e: { spec: string; fireTime: number; reason: string }): Notification {
  const at = new Date(e.fireTime).toISOString();
  return {
    kind: 'fire_missed',
    key: `fire_missed.${e.spec}.${e.fireTime}`,
    severity: 'warning',
    summary: `schedule ${e.spec} missed its fire time ${at}: ${e.reason}`,
    at,
    details: { spec: e.spec, fire_time: at, reason: e.reason },
  };
}
