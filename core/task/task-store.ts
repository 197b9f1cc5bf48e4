// Task and node records in the coordinator: created once per task in one transaction, then changed only by
// compare-and-set, so concurrent routers and runners never overwrite each other's updates.
import {
  CoordinatorError,
  decodeSegment,
  fromJsonBuffer,
  isBadVersion,
  isNodeExists,
  isNoNode,
  toJsonBuffer,
  type Coordinator,
  type TxOp,
} from '../coordination/coordinator.js';
import { isoNow, systemClock, type Clock } from '../clock.js';
import { delay } from '../delay.js';
import { mapLimit } from '../pool.js';
import { TaskermanError } from '../errors.js';
import {
  FINAL_TASK_STATES,
  TERMINAL_NODE_STATES,
  type NodeRecord,
  type NodeState,
  type Task,
  type TaskRecord,
  type TaskState,
} from './task.js';
import { specToWire } from './task-spec.js';
import { zkPaths, type ZkPaths } from '../coordination/zk-paths.js';

export interface Versioned<T> {
  value: T;
  version: number;
}

/**
 * A node write that must see the task record unchanged since `version` (a transaction `check`), or that
 * also writes the task record as `write` (same version guard): the runner's start of a node is refused when
 * the task was cancelled, halted or paused after it last looked.
 */
export interface TaskGuard {
  version: number;
  write?: TaskRecord;
}

/** A guarded node write was refused: the task record changed since the guard's version. Read it again. */
export class TaskChangedError extends TaskermanError {
  constructor(readonly taskId: string) {
    super('TASK_CHANGED', `task ${taskId} changed since it was read`, { retryable: true });
  }
}

/** The result of a mutation: undefined means "leave the record as it is". */
export type Mutator<T> = (current: T) => T | undefined;

export interface NewTask {
  task: Task;
  targets: string[];
  limit: number;
  maxFailures: number;
  /** Initial state: 'routing' while the router fans out, or 'failed' for a task refused before fan-out. */
  state: 'routing' | 'failed';
  reason?: string;
}

const CAS_ATTEMPTS = 50;
/** A record update rides out a connection blip of up to CAS_ATTEMPTS × this. */
const CONNECTION_RETRY_MS = 250;
const isConnectionLoss = (e: unknown): boolean => e instanceof CoordinatorError && e.code === 'CONNECTION_LOSS';

/** What a failed round of a compare-and-set loop means: go again, or the record is gone; anything else throws. */
async function nextRound(err: unknown, round: number): Promise<'again' | 'gone'> {
  if (isBadVersion(err)) return 'again';
  if (isConnectionLoss(err) && round < CAS_ATTEMPTS - 1) {
    // The write may or may not have landed; the next round re-reads and decides again.
    await delay(CONNECTION_RETRY_MS);
    return 'again';
  }
  if (isNoNode(err)) return 'gone';
  throw err;
}

export const isTerminalNode = (s: NodeState): boolean => TERMINAL_NODE_STATES.includes(s);

/**
 * How many nodes of a task are terminal, by state. Updated in the same transaction as the node record that
 * changes, so it is exact, and settling a task or checking the circuit breaker reads one znode instead of
 * every node record (which made a rollout O(n²) reads).
 */
export interface Progress {
  terminal: number;
  SUCCEEDED: number;
  DEAD: number;
  SKIPPED: number;
}

const emptyProgress = (): Progress => ({ terminal: 0, SUCCEEDED: 0, DEAD: 0, SKIPPED: 0 });

function adjust(p: Progress, state: NodeState, by: 1 | -1): void {
  if (state === 'SUCCEEDED' || state === 'DEAD' || state === 'SKIPPED') {
    p[state] += by;
    p.terminal += by;
  }
}

export class TaskStore {
  readonly paths: ZkPaths;

  constructor(
    readonly coordinator: Coordinator,
    root = '/taskerman',
    private readonly clock: Clock = systemClock,
  ) {
    this.paths = zkPaths(root);
  }

  private iso(): string {
    return isoNow(this.clock);
  }

  async init(): Promise<void> {
    await Promise.all([
      this.coordinator.mkdirp(this.paths.tasks),
      this.coordinator.mkdirp(this.paths.clusters),
      this.coordinator.mkdirp(this.paths.members),
    ]);
  }

  /**
   * Records a task and one QUEUED record per target, all or nothing. Returns false when the task already
   * exists (a redelivered or duplicated message): the caller must not fan it out again.
   */
  async createTask(n: NewTask): Promise<boolean> {
    const now = this.iso();
    const record: TaskRecord = {
      taskId: n.task.taskId,
      spec: specToWire(n.task.spec),
      emittedBy: n.task.emittedBy,
      emittedAt: n.task.emittedAt,
      state: n.state,
      targets: n.targets,
      limit: n.limit,
      maxFailures: n.maxFailures,
      updatedAt: now,
      ...(n.reason ? { reason: n.reason } : {}),
      ...(n.state === 'failed' ? { endedAt: now } : {}),
    };
    const id = n.task.taskId;
    const ops: TxOp[] = [
      { op: 'create', path: this.paths.task(id), data: toJsonBuffer(record) },
      { op: 'create', path: this.paths.nodes(id), data: Buffer.alloc(0) },
      { op: 'create', path: this.paths.progress(id), data: toJsonBuffer(emptyProgress()) },
    ];
    for (const node of n.targets) {
      const nr: NodeRecord = { node, state: 'QUEUED', attempts: 0, updatedAt: now, history: [] };
      ops.push({ op: 'create', path: this.paths.node(id, node), data: toJsonBuffer(nr) });
    }
    await this.coordinator.mkdirp(this.paths.tasks);
    try {
      await this.coordinator.transaction(ops);
      return true;
    } catch (err) {
      if (isNodeExists(err)) return false;
      throw err;
    }
  }

  async getTask(taskId: string): Promise<Versioned<TaskRecord> | undefined> {
    const d = await this.coordinator.get(this.paths.task(taskId));
    return d ? { value: fromJsonBuffer<TaskRecord>(d.data), version: d.stat.version } : undefined;
  }

  async getNode(taskId: string, node: string): Promise<Versioned<NodeRecord> | undefined> {
    const d = await this.coordinator.get(this.paths.node(taskId, node));
    return d ? { value: fromJsonBuffer<NodeRecord>(d.data), version: d.stat.version } : undefined;
  }

  async listTaskIds(): Promise<string[]> {
    const kids = (await this.coordinator.children(this.paths.tasks)) ?? [];
    return kids.map(decodeSegment).sort();
  }

  /**
   * The `last` most recently emitted tasks, newest first, each with its progress counts (one read, not a
   * listing of its nodes). Ordered by when they were emitted, not by id: a scheduled task's id starts with
   * its spec's name, a CLI task's with a timestamp.
   */
  async recentTasks(last: number): Promise<Array<{ task: TaskRecord; progress: Progress | undefined }>> {
    const recs = await mapLimit(await this.listTaskIds(), 16, (id) => this.getTask(id));
    const tasks = recs
      .filter((r): r is Versioned<TaskRecord> => r !== undefined)
      .map((r) => r.value)
      .sort((a, b) => b.emittedAt.localeCompare(a.emittedAt) || b.taskId.localeCompare(a.taskId))
      .slice(0, last);
    return mapLimit(tasks, 16, async (task) => ({ task, progress: await this.getProgress(task.taskId) }));
  }

  async listNodes(taskId: string): Promise<NodeRecord[]> {
    const kids = (await this.coordinator.children(this.paths.nodes(taskId))) ?? [];
    const recs = await Promise.all(kids.map((k) => this.getNode(taskId, decodeSegment(k))));
    return recs
      .filter((r): r is Versioned<NodeRecord> => r !== undefined)
      .map((r) => r.value)
      .sort((a, b) => a.node.localeCompare(b.node, 'en', { numeric: true }));
  }

  /** Compare-and-set loop on one JSON record; returns the record as stored after the call, with its version. */
  private async mutate<T extends { updatedAt: string }>(path: string, fn: Mutator<T>): Promise<Versioned<T> | undefined> {
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      try {
        const d = await this.coordinator.get(path);
        if (!d) return undefined;
        const cur = fromJsonBuffer<T>(d.data);
        const next = fn(cur);
        if (next === undefined) return { value: cur, version: d.stat.version };
        next.updatedAt = this.iso();
        const stat = await this.coordinator.set(path, toJsonBuffer(next), d.stat.version);
        return { value: next, version: stat.version };
      } catch (err) {
        if ((await nextRound(err, i)) === 'gone') return undefined;
      }
    }
    throw new CoordinatorError('BAD_VERSION', path, `gave up updating ${path} after ${CAS_ATTEMPTS} conflicting writes`);
  }

  async updateTask(taskId: string, fn: Mutator<TaskRecord>): Promise<TaskRecord | undefined> {
    return (await this.mutate(this.paths.task(taskId), fn))?.value;
  }

  /**
   * Compare-and-set on a node record. A change into or out of a terminal state updates the task's progress
   * counts in the same transaction.
   */
  async updateNode(taskId: string, node: string, fn: Mutator<NodeRecord>): Promise<NodeRecord | undefined> {
    return (await this.updateNodeVersioned(taskId, node, fn))?.value;
  }

  /**
   * updateNode, for a writer that remembers what it wrote last: with `known`, the first try skips the read
   * (one ZooKeeper round trip less on the path from a slot to the action), and falls back to reading on a
   * version conflict.
   */
  /**
   * Compare-and-set of a node record (and the task's progress counts when the node enters or leaves a terminal
   * state). `guard` makes the write conditional on the task record; `extra` ops ride in the same transaction
   * (the release of the node's grant with its final record, so the record's end is never written after the
   * grant is gone).
   */
  async updateNodeVersioned(taskId: string, node: string, fn: Mutator<NodeRecord>, known?: Versioned<NodeRecord>, guard?: TaskGuard, extra: TxOp[] = []): Promise<Versioned<NodeRecord> | undefined> {
    const path = this.paths.node(taskId, node);
    const progressPath = this.paths.progress(taskId);
    const taskPath = this.paths.task(taskId);
    const guardOps: TxOp[] = [
      ...(!guard
        ? []
        : guard.write
          ? [{ op: 'set', path: taskPath, data: toJsonBuffer({ ...guard.write, updatedAt: this.iso() }), version: guard.version } as TxOp]
          : [{ op: 'check', path: taskPath, version: guard.version } as TxOp]),
      ...extra,
    ];
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      try {
        let cur: NodeRecord;
        let version: number;
        if (i === 0 && known) {
          cur = known.value;
          version = known.version;
        } else {
          const d = await this.coordinator.get(path);
          if (!d) return undefined;
          cur = fromJsonBuffer<NodeRecord>(d.data);
          version = d.stat.version;
        }
        const next = fn(cur);
        if (next === undefined) return { value: cur, version };
        next.updatedAt = this.iso();
        const countsUnchanged = cur.state === next.state || (!isTerminalNode(cur.state) && !isTerminalNode(next.state));
        if (countsUnchanged && guardOps.length === 0) {
          await this.coordinator.set(path, toJsonBuffer(next), version);
        } else if (countsUnchanged) {
          await this.coordinator.transaction([...guardOps, { op: 'set', path, data: toJsonBuffer(next), version }]);
        } else {
          const p = await this.coordinator.get(progressPath);
          if (!p) throw new CoordinatorError('NO_NODE', progressPath, `task ${taskId} has no progress record`);
          const progress = fromJsonBuffer<Progress>(p.data);
          adjust(progress, cur.state, -1);
          adjust(progress, next.state, 1);
          await this.coordinator.transaction([
            ...guardOps,
            { op: 'set', path, data: toJsonBuffer(next), version },
            { op: 'set', path: progressPath, data: toJsonBuffer(progress), version: p.stat.version },
          ]);
        }
        return { value: next, version: version + 1 };
      } catch (err) {
        if (guard && err instanceof CoordinatorError && err.path === taskPath && (err.code === 'BAD_VERSION' || err.code === 'NO_NODE')) {
          throw new TaskChangedError(taskId);
        }
        // An extra op's own failure is the caller's to handle (e.g. the grant was released meanwhile).
        if (err instanceof CoordinatorError && extra.some((op) => op.path === err.path) && err.path !== path) throw err;
        if ((await nextRound(err, i)) === 'gone') return undefined;
      }
    }
    throw new CoordinatorError('BAD_VERSION', path, `gave up updating ${path} after ${CAS_ATTEMPTS} conflicting writes`);
  }

  async getProgress(taskId: string): Promise<Progress | undefined> {
    return (await this.getProgressVersioned(taskId))?.value;
  }

  async getProgressVersioned(taskId: string): Promise<Versioned<Progress> | undefined> {
    const d = await this.coordinator.get(this.paths.progress(taskId));
    return d ? { value: fromJsonBuffer<Progress>(d.data), version: d.stat.version } : undefined;
  }

  /** Moves a task to a new state unless it is already final (a final state is never overwritten). */
  setTaskState(taskId: string, state: TaskState, reason?: string): Promise<TaskRecord | undefined> {
    return this.updateTask(taskId, (t) => {
      if (t.state === state || FINAL_TASK_STATES.includes(t.state)) return undefined;
      const next: TaskRecord = { ...t, state };
      if (reason) next.reason = reason;
      if (state === 'routed') next.routedAt = this.iso();
      if (FINAL_TASK_STATES.includes(state)) next.endedAt = this.iso();
      return next;
    });
  }

  /** Ephemeral marker: this session is fanning the task out. False when another live session is. */
  claimFanout(taskId: string): Promise<boolean> {
    return this.claim(this.paths.fanout(taskId));
  }
  releaseFanout(taskId: string): Promise<void> {
    return this.unclaim(this.paths.fanout(taskId));
  }

  /** Ephemeral marker: this session works on the node. False when another live session does. */
  claimNode(taskId: string, node: string): Promise<boolean> {
    return this.claim(this.paths.owner(taskId, node));
  }
  releaseNode(taskId: string, node: string): Promise<void> {
    return this.unclaim(this.paths.owner(taskId, node));
  }

  private async claim(path: string): Promise<boolean> {
    try {
      await this.coordinator.create(path, toJsonBuffer({ session: this.coordinator.sessionId, at: this.iso() }), 'ephemeral');
      return true;
    } catch (err) {
      if (!isNodeExists(err)) throw err;
      // Ours already: left by an earlier attempt of this same session whose release failed while the
      // connection was down (a reconnected session keeps its ephemerals).
      const d = await this.coordinator.get(path);
      return d !== undefined && d.stat.ephemeralOwner === this.coordinator.sessionId;
    }
  }

  private async unclaim(path: string): Promise<void> {
    try {
      await this.coordinator.remove(path);
    } catch (err) {
      if (!isNoNode(err)) throw err;
    }
  }

  /**
   * Once every node is terminal, settles the task: succeeded when all succeeded, otherwise failed.
   * A halted or cancelled task keeps its state, and so does one being resumed. Safe to call from any number
   * of runners: the write is guarded on the progress counts it read, so a node queued again in between
   * (resume, redrive) makes it look again instead of settling on a stale count.
   */
  async settleIfDone(taskId: string): Promise<TaskRecord | undefined> {
    const taskPath = this.paths.task(taskId);
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      try {
        const task = await this.getTask(taskId);
        if (!task || FINAL_TASK_STATES.includes(task.value.state) || task.value.resuming) return undefined;
        const progress = await this.getProgressVersioned(taskId);
        const total = task.value.targets.length;
        if (!progress || total === 0 || progress.value.terminal < total) return undefined;
        const p = progress.value;
        const ok = p.SUCCEEDED === total;
        const now = this.iso();
        const next: TaskRecord = { ...task.value, state: ok ? 'succeeded' : 'failed', endedAt: now, updatedAt: now };
        if (!ok) next.reason = `${total - p.SUCCEEDED} of ${total} nodes did not succeed (${p.DEAD} dead, ${p.SKIPPED} skipped)`;
        await this.coordinator.transaction([
          { op: 'check', path: this.paths.progress(taskId), version: progress.version },
          { op: 'set', path: taskPath, data: toJsonBuffer(next), version: task.version },
        ]);
        return next;
      } catch (err) {
        if ((await nextRound(err, i)) === 'gone') return undefined;
      }
    }
    throw new CoordinatorError('BAD_VERSION', taskPath, `gave up settling ${taskPath} after ${CAS_ATTEMPTS} conflicting writes`);
  }

  /**
   * Ends every node still QUEUED as SKIPPED with `reason`: after a halt or a cancel, a node that has not
   * started never will, and one whose work item was never sent (its router died mid-way) would otherwise
   * stay QUEUED for good. A runner that later receives its work item finds it SKIPPED and drops it.
   * Each write is guarded on the task still being halted or cancelled: a late call must not skip the nodes
   * a resume has just queued again.
   */
  async skipQueued(taskId: string, reason: string): Promise<string[]> {
    let task = await this.getTask(taskId);
    const ended = (t: Versioned<TaskRecord> | undefined): t is Versioned<TaskRecord> => t !== undefined && (t.value.state === 'halted' || t.value.state === 'cancelled');
    if (!ended(task)) return [];
    const skipped: string[] = [];
    for (const n of await this.listNodes(taskId)) {
      if (n.state !== 'QUEUED') continue;
      for (;;) {
        try {
          const r = await this.updateNodeVersioned(taskId, n.node, (cur) => (cur.state === 'QUEUED' ? { ...cur, state: 'SKIPPED', reason, endedAt: this.iso() } : undefined), undefined, { version: task.version });
          if (r?.value.state === 'SKIPPED' && r.value.reason === reason) skipped.push(n.node);
          break;
        } catch (err) {
          if (!(err instanceof TaskChangedError)) throw err;
          task = await this.getTask(taskId);
          if (!ended(task)) return skipped;
        }
      }
    }
    return skipped;
  }

  /** Number of nodes that have failed for good; the circuit breaker compares it with max_failures. */
  async countDead(taskId: string): Promise<number> {
    return (await this.getProgress(taskId))?.DEAD ?? 0;
  }
}

/**
 * Watches one task's records with one ZooKeeper watch per record, re-armed as each fires, so that a
 * waiter (`run --wait`, `status --watch`, the demo's progress) wakes on changes instead of polling.
 */
export class TaskWatch {
  private readonly armed = new Set<string>();
  private waiters: Array<() => void> = [];
  private dirty = false;
  private stopped = false;

  constructor(
    private readonly store: TaskStore,
    private readonly taskId: string,
  ) {}

  async start(): Promise<void> {
    await this.arm(this.store.paths.task(this.taskId), 'data');
    await this.arm(this.store.paths.nodes(this.taskId), 'children');
  }

  private async arm(path: string, kind: 'data' | 'children'): Promise<void> {
    if (this.stopped || this.armed.has(path)) return;
    this.armed.add(path);
    const fire = () => {
      this.armed.delete(path);
      this.notify();
      void this.arm(path, kind).catch(() => this.notify());
    };
    const c = this.store.coordinator;
    try {
      if (kind === 'data') {
        await c.get(path, fire);
      } else {
        const kids = (await c.children(path, fire)) ?? [];
        await Promise.all(kids.map((k) => this.arm(`${path}/${k}`, 'data')));
      }
    } catch {
      this.armed.delete(path);
      this.notify();
    }
  }

  private notify(): void {
    this.dirty = true;
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves at the next change (or at once if one happened since the last call), or after timeoutMs. */
  async next(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.dirty || this.stopped) {
      this.dirty = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
    this.dirty = false;
  }

  stop(): void {
    this.stopped = true;
    this.notify();
  }
}
