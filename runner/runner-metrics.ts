// A runner's metrics, moved by its events (the loops make no metric calls): work items by outcome, node
// transitions, action duration by action and result, the wait for a grant, the handoff time, retries,
// dead letters, breaker trips, problems.
//
// Handoff is the time from the last node of the task to finish (the moment its grant was freed: the task's
// progress counts change in the same transaction) to this node's start, counted only when this node was
// already waiting then. It is read from the latest mtime of the progress znodes (the shards, or the single
// record of a task recorded before the split) after the start, off the work's path.
import type { TaskermanMetrics } from '../core/metrics/metrics.js';
import type { TaskStore } from '../core/task/task-store.js';
import type { Runner } from './runner.js';

const TERMINAL = new Set(['SUCCEEDED', 'DEAD', 'SKIPPED']);
const OUTCOME: Partial<Record<string, string>> = { SUCCEEDED: 'succeeded', DEAD: 'dead', SKIPPED: 'skipped', QUEUED: 'requeued' };

/** The error code that starts a dead-letter reason ("ACTION_FAILED: ..."), a bounded label. */
export function reasonCode(reason: string): string {
  const m = /^([A-Z][A-Z_]+):/.exec(reason);
  return m?.[1] ?? 'ERROR';
}

export function bindRunnerMetrics(runner: Runner, m: TaskermanMetrics, store: TaskStore, now: () => number = Date.now): void {
  const cluster = runner.cluster;
  const waitingSince = new Map<string, number>();
  /** The state last written per task: a write that only changes the reason is not a transition. */
  const lastState = new Map<string, string>();
  m.runnerExecuting.set({ cluster }, 0);
  runner.on('node', (e) => {
    const key = e.taskId;
    if (lastState.get(key) === e.state) return;
    if (TERMINAL.has(e.state)) lastState.delete(key);
    else lastState.set(key, e.state);
    m.nodeTransitions.inc({ cluster, state: e.state });
    m.runnerExecuting.set({ cluster }, e.state === 'STARTED' ? 1 : 0);
    const outcome = OUTCOME[e.state];
    if (outcome) m.workItems.inc({ cluster, outcome });
    if (e.state === 'WAITING') {
      if (!waitingSince.has(key)) waitingSince.set(key, now());
      return;
    }
    if (e.state === 'STARTED') {
      if (e.attempt > 1) m.retries.inc({ cluster });
      const since = waitingSince.get(key);
      if (since !== undefined) {
        const startedAt = now();
        m.grantWait.observe({ cluster }, (startedAt - since) / 1000);
        void observeHandoff(store, e.taskId, since, startedAt)
          .then((s) => s !== undefined && m.handoff.observe({ cluster }, s))
          .catch(() => undefined);
      }
    }
    waitingSince.delete(key);
  });
  runner.on('duplicate', () => m.workItems.inc({ cluster, outcome: 'duplicate' }));
  runner.on('attempt', (e) => m.actionDuration.observe({ action: e.action, result: e.result }, e.durationMs / 1000));
  runner.on('deadLetter', (e) => m.deadLetters.inc({ component: 'runner', code: reasonCode(e.reason) }));
  runner.on('halted', () => m.breakerTrips.inc({ cluster }));
  runner.on('problem', () => m.problems.inc({ component: 'runner' }));
}

/** Seconds from the task's last node end to `startedAt`, if that end came while this node waited. */
async function observeHandoff(store: TaskStore, taskId: string, waitingSince: number, startedAt: number): Promise<number | undefined> {
  const c = store.coordinator;
  const shards = (await c.children(store.paths.progress(taskId))) ?? [];
  const paths = shards.length > 0 ? shards.map((s) => `${store.paths.progress(taskId)}/${s}`) : [store.paths.progress(taskId)];
  const stats = await Promise.all(paths.map((p) => c.exists(p)));
  // The latest end before this start (a shard may have changed since, for a node that ended after it).
  const mtime = Math.max(-Infinity, ...stats.map((st) => (st && st.mtime <= startedAt ? st.mtime : -Infinity)));
  if (!Number.isFinite(mtime) || mtime < waitingSince) return undefined;
  return (startedAt - mtime) / 1000;
}
