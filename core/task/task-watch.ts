// Waking a task's follower (`run --wait`, `status --watch`, the demo's progress, the web view) when the task
// changes, with ZooKeeper watches instead of polling.
//
// A task of up to WATCHED_NODES_MAX nodes is watched record by record: its task record, its node folder and
// every node record, each watch set again as it fires. The bound is per session, counting the node watches
// of every TaskWatch on it that have not fired yet (a stopped one's too: ZooKeeper keeps them until they
// fire), so that a long-lived follower (the web view) stays within it over many tasks. A bigger task is not: its session would hold a watch
// per node, and a ZooKeeper client sends all of its session's watches again in one request when it
// reconnects; over jute.maxbuffer the server drops that connection, and the client reconnects and sends it
// again, without end (ZOOKEEPER-706; 10,000 node records with EC2-style names are about 1 MB). A big task is
// watched through its task record, its node folder and its progress shards (at most PROGRESS_SHARDS; each
// node's end writes one), and since its follower then re-reads every node record, it is woken at most once
// per BIG_TASK_READ_MS_PER_NODE per node (20 s at 10,000 nodes), except when the task record changes (an end,
// a pause, a halt), which wakes it at once.
import type { Coordinator } from '../coordination/coordinator.js';
import { joinPath } from '../coordination/coordinator.js';
import type { ZkPaths } from '../coordination/zk-paths.js';
import { BIG_TASK_READ_MS_PER_NODE, WATCHED_NODES_MAX } from './task-bounds.js';

/**
 * Node-record watches set through a session and not fired yet, over every TaskWatch on it: a stopped watch's
 * stay with the session until they fire (a finished task's node records may never change again), so a
 * long-lived follower such as the web view counts them too, and follows more tasks through their progress.
 */
const nodeWatchesOut = new WeakMap<Coordinator, { n: number }>();

export interface TaskWatchOptions {
  /** Node records watched one by one through this watch's session, at most (default WATCHED_NODES_MAX). */
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
    private readonly store: { readonly coordinator: Coordinator; readonly paths: ZkPaths },
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
    if (this.stopped || this.armed.has(path)) return;
    // A node record's watch that fired after the task proved big is not set again.
    if (this.big && kind === 'data' && path.startsWith(`${this.nodesPath}/`)) return;
    this.armed.add(path);
    const c = this.store.coordinator;
    const out = this.outstanding();
    const isNode = kind === 'data' && path.startsWith(`${this.nodesPath}/`);
    // One count per watch set, given back when it fires (or was not set).
    let counted = isNode;
    if (isNode) out.n++;
    const uncount = () => {
      if (counted) out.n--;
      counted = false;
    };
    const fire = () => {
      uncount();
      this.armed.delete(path);
      this.notify(path === this.taskPath);
      void this.arm(path, kind).catch(() => this.notify(false));
    };
    try {
      if (kind === 'data') {
        await c.get(path, fire);
        return;
      }
      const kids = (await c.children(path, fire)) ?? [];
      if (path !== this.nodesPath) return;
      this.nodes = kids.length;
      const unwatched = kids.filter((k) => !this.armed.has(`${path}/${k}`));
      if (!this.big && out.n + unwatched.length > this.watchedNodesMax) {
        this.big = true;
        await this.armProgress();
      }
      if (!this.big) await Promise.all(unwatched.map((k) => this.arm(`${path}/${k}`, 'data')));
    } catch {
      uncount();
      this.armed.delete(path);
      this.notify(false);
    }
  }

  private outstanding(): { n: number } {
    const c = this.store.coordinator;
    let out = nodeWatchesOut.get(c);
    if (!out) nodeWatchesOut.set(c, (out = { n: 0 }));
    return out;
  }

  /** A big task: a watch on each of its progress shards (every node's end writes one). */
  private async armProgress(): Promise<void> {
    const dir = this.store.paths.progress(this.taskId);
    const shards = (await this.store.coordinator.children(dir)) ?? [];
    await Promise.all((shards.length > 0 ? shards.map((s) => joinPath(dir, s)) : [dir]).map((p) => this.arm(p, 'data')));
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
