// Following a task until it ends: woken by ZooKeeper watches (TaskWatch), printing a progress line on every
// change. Shared by `run --wait`, `submit --wait`, `status --watch` and `dev`, so they agree on what they say
// and on the exit code (`taskOutcome`).
//
// A follower rides out a ZooKeeper outage as the daemons do: a suspended session makes every read fail at
// once, so it says on stderr that ZooKeeper is unreachable, waits for the session to come back (woken by the
// session state, polling as a backstop) and goes on where it was; only after `giveUpMs` without ZooKeeper does
// it stop, with a BackendError (exit 3). A task whose record does not appear (no router took it from the
// global queue) is reported after `noRouterAfterMs`, naming the queue it waits in.
import { CoordinatorError, isZkUnreachable } from '../core/coordination/coordinator.js';
import { BackendError, InterruptedError } from '../core/errors.js';
import { FINAL_TASK_STATES, type NodeRecord, type TaskRecord } from '../core/task/task.js';
import type { TaskStore } from '../core/task/task-store.js';
import { TaskWatch } from '../core/task/task-watch.js';
import { EXIT, ExitError } from './handle-error.js';
import { progressLine } from './status-view.js';

export interface WaitResult {
  task: TaskRecord;
  nodes: NodeRecord[];
}

export interface WaitOptions {
  /** Progress lines (stderr). */
  out?: (line: string) => void;
  /** Called with the records on every change (the live progress bar on a terminal). */
  progress?: (task: TaskRecord, nodes: NodeRecord[]) => void;
  /** Diagnostics: ZooKeeper unreachable and back, no router yet (stderr). Default: `out`, else nothing. */
  note?: (line: string) => void;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** After a halt or cancel, how long nodes in flight may take to settle before the table is printed. */
  settleMs?: number;
  /** How long ZooKeeper may stay unreachable before the follower gives up (BackendError, exit 3). Default 5 min. */
  giveUpMs?: number;
  /** Where the task waits until a router records it, for the "no router yet" note. */
  pending?: { queue: string; region: string; zkRoot: string };
  /** When to say that no router has recorded the task yet. Default 10 s. */
  noRouterAfterMs?: number;
  /** Where ZooKeeper is, for messages. */
  zk?: string;
}

export const DEFAULT_GIVE_UP_MS = 5 * 60_000;
const DEFAULT_NO_ROUTER_MS = 10_000;
/** Backstop poll while ZooKeeper is away: the session state wakes us sooner. */
const OUTAGE_POLL_MS = 1_000;

/** Nodes still moving: after a halt or a cancel they finish or end SKIPPED within moments. */
const moving = (nodes: NodeRecord[]) => nodes.some((n) => n.state === 'STARTED' || n.state === 'WAITING' || n.state === 'FAILED');

/** Errors that mean "ZooKeeper is not reachable right now" (the session is suspended, or being renewed). */
export function isZkOutage(err: unknown): boolean {
  if (err instanceof CoordinatorError) return isZkUnreachable(err);
  return err instanceof BackendError && err.backend === 'zookeeper';
}

const secs = (ms: number) => `${Math.round(ms / 1000)}s`;

/** Resolves when the session is back (reconnected or a new one), after `ms`, or when `signal` aborts. */
function sessionBack(store: TaskStore, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const off = store.coordinator.onSessionState((s) => {
      if (s === 'reconnected' || s === 'connected') done();
    });
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function waitForTask(store: TaskStore, taskId: string, opts: WaitOptions = {}): Promise<WaitResult | undefined> {
  const started = Date.now();
  const note = opts.note ?? opts.out ?? (() => undefined);
  const giveUpMs = opts.giveUpMs ?? DEFAULT_GIVE_UP_MS;
  const zk = opts.zk ? ` at ${opts.zk}` : '';
  let finalSince: number | undefined;
  let outageSince: number | undefined;
  let seenRecord = false;
  let saidNoRouter = false;
  const watch = new TaskWatch(store, taskId);
  let lastLine = '';
  // A suspended session fires no watch: wake at once to notice (and say) that ZooKeeper went away.
  let kick = new AbortController();
  const offSession = store.coordinator.onSessionState((s) => {
    if (s === 'suspended' || s === 'lost') kick.abort();
  });
  try {
    for (;;) {
      if (opts.signal?.aborted) return undefined;
      if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) return undefined;
      let rec: Awaited<ReturnType<TaskStore['getTask']>>;
      let nodes: NodeRecord[];
      try {
        // Armed before the read, so a record created in between still wakes us. The task and its nodes are read
        // together: one session's requests are answered in order, so the nodes are never older than the task,
        // and a follower far from ZooKeeper waits one round trip less per change.
        await watch.start();
        [rec, nodes] = await Promise.all([store.getTask(taskId), store.listNodes(taskId)]);
      } catch (err) {
        if (!isZkOutage(err)) throw err;
        const now = Date.now();
        if (outageSince === undefined) {
          outageSince = now;
          note(`taskerman: ZooKeeper${zk} is unreachable; still following task ${taskId} (the task goes on without us), giving up after ${secs(giveUpMs)}`);
        }
        if (now - outageSince >= giveUpMs) {
          throw new BackendError('zookeeper', `ZooKeeper${zk} unreachable for ${secs(now - outageSince)}: stopped following task ${taskId}`, {
            cause: err,
            hint: `the task goes on; follow it again with \`taskerman status ${taskId} --watch\` once ZooKeeper is back`,
          });
        }
        await sessionBack(store, Math.min(OUTAGE_POLL_MS, giveUpMs - (now - outageSince)), opts.signal);
        continue;
      }
      if (outageSince !== undefined) {
        note(`taskerman: ZooKeeper${zk} is back after ${secs(Date.now() - outageSince)}; following task ${taskId} again`);
        outageSince = undefined;
      }
      if (rec) {
        seenRecord = true;
        opts.progress?.(rec.value, nodes);
        const line = progressLine(rec.value, nodes, Date.now() - started);
        const key = line.replace(/^\s*[\d.]+s /, '');
        if (opts.out && key !== lastLine) {
          lastLine = key;
          opts.out(line);
        }
        if (FINAL_TASK_STATES.includes(rec.value.state)) {
          // A halted or cancelled task is final at once, but its nodes in flight still finish or end
          // SKIPPED: give them a moment so the table we print is the settled one.
          finalSince ??= Date.now();
          if (!moving(nodes) || Date.now() - finalSince > (opts.settleMs ?? 15_000)) return { task: rec.value, nodes };
        }
      } else if (!seenRecord && !saidNoRouter && opts.pending && Date.now() - started >= (opts.noRouterAfterMs ?? DEFAULT_NO_ROUTER_MS)) {
        saidNoRouter = true;
        const p = opts.pending;
        note(
          `taskerman: no router has picked up task ${taskId} after ${secs(Date.now() - started)}: it waits in queue ${p.queue} (region ${p.region}); ` +
            `is a router running with the same --queue-prefix, --region and --zk-root (${p.zkRoot})?`,
        );
      }
      // The watch wakes us on change; the timeout is a backstop against a missed one (and the no-router note).
      const backstop = !seenRecord && opts.pending && !saidNoRouter ? Math.max(100, (opts.noRouterAfterMs ?? DEFAULT_NO_ROUTER_MS) - (Date.now() - started)) : 5000;
      if (kick.signal.aborted) kick = new AbortController();
      await watch.next(Math.min(5000, backstop), opts.signal ? AbortSignal.any([opts.signal, kick.signal]) : kick.signal);
    }
  } finally {
    offSession();
    watch.stop();
  }
}

/**
 * The exit of a command that followed a task to its end: nothing when it succeeded, else ExitError(1) with one
 * line. `run --wait`, `submit --wait`, `status --watch` and `dev` all end through here.
 */
export function taskOutcome(r: WaitResult): void {
  const t = r.task;
  if (t.state === 'succeeded') return;
  throw new ExitError(EXIT.failed, `taskerman: task ${t.taskId} ended ${t.state}${t.reason ? `: ${t.reason}` : ''}`);
}

/** Following was stopped (Ctrl-C): exit 130, the task goes on. */
export function stoppedFollowing(taskId: string): InterruptedError {
  return new InterruptedError(`stopped following task ${taskId}; it goes on: taskerman status ${taskId}`);
}
