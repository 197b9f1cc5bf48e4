// A router's notifications (`taskerman router --notify-url`): tasks that end halted, failed or cancelled,
// nodes that end DEAD (their work item is in a dead-letter queue), messages it dead-letters itself, and
// grants held past their grace. Task ends, dead nodes and grants come from the fleet scanner's reads of
// ZooKeeper, so they are seen whoever caused them (a runner, the CLI); every router replica sees them, and
// the notifier's marker lets one of them post. Events older than `lookbackMs` when first seen (a router
// that starts on an old fleet) are not announced.
import { describeError } from '../core/errors.js';
import type { FleetScan, FleetScanner } from '../core/fleet/fleet-scanner.js';
import type { Logger } from '../core/logger.js';
import type { Notifier } from '../core/notify/notifier.js';
import { deadLetterNotification, deadNodeNotification, grantOverdueNotification, rejectedMessageNotification, taskEndNotification } from '../core/notify/task-notifications.js';
import { mapLimit } from '../core/pool.js';
import type { QueueNames } from '../core/queue/queue-names.js';
import { FINAL_TASK_STATES } from '../core/task/task.js';
import type { TaskStore } from '../core/task/task-store.js';
import type { Router } from './router.js';
import type { Supervisor } from './supervisor.js';

export interface RouterNotifyOptions {
  router: Router;
  supervisor?: Supervisor;
  scanner: FleetScanner;
  notifier: Notifier;
  store: TaskStore;
  names: QueueNames;
  logger: Logger;
  /** A grant held longer than this is announced once. */
  grantGraceMs: number;
  /** Default 1 h. */
  lookbackMs?: number;
  now?: () => number;
}

export function bindRouterNotifications(o: RouterNotifyOptions): void {
  const now = o.now ?? Date.now;
  const lookbackMs = o.lookbackMs ?? 3_600_000;
  const recent = (iso: string | undefined) => iso !== undefined && now() - Date.parse(iso) <= lookbackMs;
  /** DEAD count last seen per task: a task's nodes are listed only when it grew. */
  const deadSeen = new Map<string, number>();

  o.router.on('rejected', (e) => o.notifier.notify(rejectedMessageNotification({ messageId: e.messageId, reason: e.reason, queue: o.names.globalDlq, ...(e.taskId ? { taskId: e.taskId } : {}) })));
  o.supervisor?.on('gaveUp', (e) => o.notifier.notify(deadLetterNotification(e)));

  const onScan = async (scan: FleetScan): Promise<void> => {
    const live = new Set<string>();
    const watch = scan.tasks.filter((t) => !FINAL_TASK_STATES.includes(t.state) || recent(t.endedAt ?? t.updatedAt));
    for (const t of scan.tasks) {
      const n = taskEndNotification(t);
      if (n && recent(n.at)) o.notifier.notify(n);
    }
    await mapLimit(watch, 8, async (t) => {
      live.add(t.taskId);
      const dead = (await o.store.getProgress(t.taskId))?.DEAD ?? 0;
      if (dead <= (deadSeen.get(t.taskId) ?? 0)) return;
      deadSeen.set(t.taskId, dead);
      for (const node of await o.store.listNodes(t.taskId)) {
        if (node.state === 'DEAD' && recent(node.endedAt ?? node.updatedAt)) o.notifier.notify(deadNodeNotification(t, node));
      }
    });
    for (const id of deadSeen.keys()) if (!live.has(id)) deadSeen.delete(id);
    for (const c of scan.grants) {
      for (const g of c.held) if (now() - Date.parse(g.since) > o.grantGraceMs) o.notifier.notify(grantOverdueNotification(c.cluster, g, o.grantGraceMs, now()));
    }
  };
  o.scanner.on('scan', (scan) => {
    onScan(scan).catch((err: unknown) => o.logger.warn({ err: describeError(err) }, 'reading the fleet for notifications failed'));
  });
}
