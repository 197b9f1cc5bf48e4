// Waking a task's follower (`run --wait`, `status --watch`, the demo's progress, the web view) when the task
// changes, with ZooKeeper watches instead of polling.
//
// A task of up to WATCHED_NODES_MAX nodes is watched record by record: its task record, its node folder and
// every node record, each watch set again as it fires.
//
// A bigger task is not watched node by node: its follower re-reads every node record when woken, and woken
// by every node's change it would read 10,000 records thousands of times over a rollout. It is watched
// through its task record, its node folder and its progress shards (each node's end writes one), and woken
// at most once per BIG_TASK_READ_MS_PER_NODE per node (20 s at 10,000 nodes), except when the task record
// changes (an end, a pause, a halt), which wakes it at once.
import { BIG_TASK_READ_MS_PER_NODE, WATCHED_NODES_MAX } from './task-bounds.js';
import type { TaskStore } from './task-store.js';

export interface TaskWatchOptions {
  /** Tasks of more nodes are not watched node by node (default WATCHED_NODES_MAX). */
  watchedNodesMax?: number;
  /** Milliseconds between two wakes of a big task's follower, per node (default BIG_TASK_READ_MS_PER_NODE). */
  readMsPerNode?: number;
}

export class TaskWatch {
  private readonly armed = new Set<string>();
  private waiters: Array<() => void> = [];
  private dirty = false;
  /** The task record changed since the last wake: a big task's follower reads it at once. */
  private urgent = false;
  private stopped = false;
  /** The task has more nodes than are watched one by one (from the first listing of its node folder on). */
  private big = false;
  private nodes = 0;
  private lastWake = 0;
  private readonly watchedNodesMax: number;
  private readonly readMsPerNode: number;
  private readonly taskPath: string;
  private readonly nodesPath: string;

  constructor(
    private readonly store: TaskStore,
    private readonly taskId: string,
    opts: TaskWatchOptions = {},
  ) {
    this.watchedNodesMax = opts.watchedNodesMax ?? WATCHED_NODES_MAX;
    this.readMsPerNode = opts.readMsPerNode ?? BIG_TASK_READ_MS_PER_NODE;
    this.taskPath = store.paths.task(taskId);
    this.nodesPath = store.paths.nodes(taskId);
  }

  /** True once the task proved too big to watch node by node. */
  get followsProgress(): boolean {
    return this.big;
  }

  /** Arms the watches (again, after a lost session: armed ones are kept). */
  async start(): Promise<void> {
    // Both watches in one round trip (a session's requests are answered in order).
    await Promise.all([this.arm(this.taskPath, 'data'), this.arm(this.nodesPath, 'children')]);
  }

  private async arm(path: string, kind: 'data' | 'children'): Promise<void> {
    const isNode = kind === 'data' && path.startsWith(`${this.nodesPath}/`);
    // A node record's watch that fired after the task proved big is not set again.
    if (this.stopped || this.armed.has(path) || (isNode && this.big)) return;
    this.armed.add(path);
    const fire = () => {
      this.armed.delete(path);
      this.notify(path === this.taskPath);
      void this.arm(path, kind).catch(() => this.notify(false));
    };
    const c = this.store.coordinator;
    try {
      if (kind === 'data') {
        await c.get(path, fire);
        return;
      }
      const kids = (await c.children(path, fire)) ?? [];
      this.nodes = kids.length;
      if (!this.big && kids.length > this.watchedNodesMax) {
        this.big = true;
        // A big task: a watch on each record of its counts (every node's end writes one).
        await Promise.all(((await this.store.progressPaths(this.taskId)) ?? []).map((p) => this.arm(p, 'data')));
      }
      if (!this.big) await Promise.all(kids.map((k) => this.arm(`${path}/${k}`, 'data')));
    } catch {
      this.armed.delete(path);
      this.notify(false);
    }
  }

  private notify(urgent: boolean): void {
    this.dirty = true;
    if (urgent) this.urgent = true;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `ready()` holds (checked at each change), after `ms`, or when `signal` aborts. */
  private wait(ms: number, ready: () => boolean, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const check = () => (ready() ? done() : this.waiters.push(check));
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      if (signal?.aborted) return done();
      check();
    });
  }

  /**
   * Resolves at the next change (or at once if one happened since the last call), or after `timeoutMs`. For a
   * big task, not before its pace since the last wake, unless the task record changed (or `signal` aborts).
   */
  async next(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    await this.wait(timeoutMs, () => this.dirty || this.stopped, signal);
    if (this.big && !this.stopped && !signal?.aborted) {
      const pace = Math.max(1000, this.nodes * this.readMsPerNode);
      const left = this.lastWake + pace - Date.now();
      if (left > 0) await this.wait(left, () => this.urgent || this.stopped, signal);
    }
    this.dirty = false;
    this.urgent = false;
    this.lastWake = Date.now();
  }

  stop(): void {
    this.stopped = true;
    this.notify(false);
  }
}
