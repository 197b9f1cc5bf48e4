// Operator controls on a task: cancel (a tombstone: no node starts again, actions in flight are aborted),
// pause and resume (admission stops and restarts without losing place), and resume after a circuit-breaker
// halt (the nodes skipped by the halt are queued again and the failure budget starts afresh).
import { TaskermanError, NotFoundError } from '../errors.js';
import type { QueueNames } from '../queue/queue-names.js';
import { encodeWorkMessage, FINAL_TASK_STATES, type TaskRecord } from './task.js';
import type { TaskStore } from './task-store.js';
import type { WorkQueue } from '../queue/work-queue.js';

export class ControlError extends TaskermanError {
  constructor(message: string, hint?: string) {
    super('NOT_ALLOWED', message, { retryable: false, hint });
  }
}

async function mustGet(store: TaskStore, taskId: string): Promise<TaskRecord> {
  const t = await store.getTask(taskId);
  if (!t) throw new NotFoundError(`task ${taskId}`, { hint: 'list tasks with `taskerman tasks`' });
  return t.value;
}

export async function cancelTask(store: TaskStore, taskId: string, by: string): Promise<TaskRecord> {
  const before = await mustGet(store, taskId);
  if (before.state === 'cancelled') return before;
  if (before.state === 'succeeded' || before.state === 'failed') throw new ControlError(`task ${taskId} already ended ${before.state}`);
  const at = new Date().toISOString();
  const after = await store.updateTask(taskId, (t) => {
    if (t.state === 'cancelled' || t.state === 'succeeded' || t.state === 'failed') return undefined;
    return { ...t, state: 'cancelled', reason: `cancelled by ${by}`, cancelled: { by, at }, endedAt: at };
  });
  if (!after || after.state !== 'cancelled') throw new ControlError(`task ${taskId} ended ${after?.state ?? 'and vanished'} before it could be cancelled`);
  await store.skipQueued(taskId, `task cancelled by ${by}`);
  await store.settleIfDone(taskId);
  return after;
}

export async function pauseTask(store: TaskStore, taskId: string, by: string): Promise<TaskRecord> {
  const before = await mustGet(store, taskId);
  if (FINAL_TASK_STATES.includes(before.state) && before.state !== 'halted') throw new ControlError(`task ${taskId} already ended ${before.state}`);
  const after = await store.updateTask(taskId, (t) => (t.paused ? undefined : { ...t, paused: { by, at: new Date().toISOString() } }));
  return after ?? before;
}

export interface ResumeResult {
  task: TaskRecord;
  /** Nodes queued again (after a halt). */
  requeued: string[];
}

/**
 * Resumes a paused task, or a halted one: the nodes the halt skipped go back to QUEUED with their work items
 * sent again, and the circuit breaker counts failures from now on.
 *
 * A halted task is marked `resuming` in the same write that makes it `running`, and the mark is cleared
 * only once every skipped node is queued again: until then no runner settles the task on the old counts,
 * and a breaker call still in flight from the halt cannot skip the queued nodes again (its writes are
 * guarded on the task record). A resume that dies half-way leaves the mark; `resume` again finishes it.
 */
export async function resumeTask(store: TaskStore, queue: WorkQueue, names: QueueNames, taskId: string, by = 'someone'): Promise<ResumeResult> {
  const before = await mustGet(store, taskId);
  if (before.state === 'cancelled' || before.state === 'succeeded' || before.state === 'failed') {
    throw new ControlError(`task ${taskId} ended ${before.state}; it cannot be resumed`, 'run it again instead');
  }
  const dead = await store.countDead(taskId);
  const task = await store.updateTask(taskId, (t) => {
    if (t.state !== 'halted' && !t.paused) return undefined;
    const at = new Date().toISOString();
    const next: TaskRecord = { ...t, resumedAt: at };
    delete next.paused;
    if (t.state === 'halted') {
      next.state = 'running';
      next.breakerBase = dead;
      next.resuming = { by, at };
      delete next.reason;
      delete next.endedAt;
    }
    return next;
  });
  if (!task?.resuming) return { task: task ?? before, requeued: [] };

  const cluster = String(task.spec.cluster);
  const action = String(task.spec.action);
  const requeued: string[] = [];
  for (const n of await store.listNodes(taskId)) {
    const haltSkipped = n.state === 'SKIPPED' && (n.reason ?? '').startsWith('task halted');
    // QUEUED by a resume that died before it sent the work item: send it (again; a duplicate is harmless).
    const leftOver = n.state === 'QUEUED' && n.reason === REQUEUED;
    if (!haltSkipped && !leftOver) continue;
    if (haltSkipped) {
      const r = await store.updateNode(taskId, n.node, (cur) => (cur.state === 'SKIPPED' ? { ...cur, state: 'QUEUED', reason: REQUEUED, endedAt: undefined } : undefined));
      if (r?.state !== 'QUEUED') continue;
    }
    await queue.send(names.node(cluster, n.node), {
      body: encodeWorkMessage({ taskId, cluster, node: n.node, action }),
      attributes: { 'taskerman.task_id': taskId, 'taskerman.node': n.node },
    });
    requeued.push(n.node);
  }
  const done = await store.updateTask(taskId, (t) => {
    if (!t.resuming) return undefined;
    const next = { ...t };
    delete next.resuming;
    return next;
  });
  // Nothing left to run (every node had ended, or finished meanwhile): settle it now rather than leave it `running`.
  const settled = await store.settleIfDone(taskId);
  return { task: settled ?? done ?? task, requeued };
}

const REQUEUED = 'queued again by resume';
