// Task and node records in the coordinator: created once per task in one transaction, then changed only by
// compare-and-set, so concurrent routers and runners never overwrite each other's updates.
import { createHash } from 'node:crypto';
import {
  CoordinatorError,
  decodeSegment,
  fromJsonBuffer,
  isBadVersion,
  isNodeExists,
  isNoNode,
  joinPath,
  toJsonBuffer,
  type Coordinator,
  type NodeData,
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
import { checkTaskBounds, clip, MAX_ATTEMPT_TEXT_BYTES, MAX_HISTORY, MAX_TEXT_BYTES, RECORD_BATCH_BYTES, RECORD_BATCH_NODES, TARGET_CHUNK_NODES } from './task-bounds.js';
import { zkPaths, type ZkPaths } from '../coordination/zk-paths.js';

export interface Versioned<T> {
  value: T;
  version: number;
}

/**
 * A node write that must see the task's control record (or, for a task recorded before control records,
 * the task record itself: `path`) unchanged since `version` (a transaction `check`): the runner's start of a
 * node is refused when the task was cancelled, halted, paused or resumed after it last looked.
 */
export interface TaskGuard {
  version: number;
  /** The record checked: the task's control record, or its task record (default). */
  path?: string;
}

/** What the control record holds: enough to tell, by hand, what the last change a runner must act on was. */
interface ControlRecord {
  state: TaskState;
  paused: boolean;
  at: string;
}

/** Task-record fields whose change runners need not act on: the router's and the settler's bookkeeping. */
const BOOKKEEPING_FIELDS = new Set(['state', 'reason', 'recording', 'routedAt', 'endedAt', 'updatedAt']);

/**
 * Whether a runner working on a node of the task must learn of this change (its follower is woken through
 * the control record): a pause, a resume, a halt, a cancel, a new limit. The router's `routing` → `routed`
 * → `running` and the final state are not: every runner following the task would read the whole record
 * again for nothing (1,000 reads of a 13 KB record for a 1,000-node task, twice per rollout).
 */
function runnersMustKnow(before: TaskRecord, after: TaskRecord): boolean {
  const stops = (s: TaskState) => s === 'halted' || s === 'cancelled';
  if (before.state !== after.state && (stops(before.state) || stops(after.state))) return true;
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  for (const k of keys) {
    if (BOOKKEEPING_FIELDS.has(k)) continue;
    if (JSON.stringify(before[k as keyof TaskRecord]) !== JSON.stringify(after[k as keyof TaskRecord])) return true;
  }
  return false;
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
  /** A reason to note on some node records as they are created (a target with no live runner yet). */
  notes?: ReadonlyMap<string, string>;
}

/** A `recording` task whose target list is lost (its router died) and cannot be rebuilt the same: it fails. */
export class TargetsLostError extends TaskermanError {
  constructor(taskId: string) {
    super('DISCOVERY_FAILED', `task ${taskId}: the router recording it stopped before its target list was saved, and discovery now returns a different list`, {
      retryable: false,
      hint: 'submit the task again',
    });
  }
}

export const digestOf = (targets: readonly string[]): string => createHash('sha256').update(JSON.stringify(targets)).digest('hex');

function chunksOf<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
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

/** Sum of data and path bytes of a transaction's ops: what bounds its size on the wire. */
function opBytes(ops: readonly TxOp[]): number {
  let n = 0;
  for (const op of ops) n += op.path.length + 16 + (op.op === 'create' || op.op === 'set' ? (op.data?.length ?? 0) : 0);
  return n;
}

/** Splits ops into transactions of at most RECORD_BATCH_NODES ops and RECORD_BATCH_BYTES each. */
function batchOps(ops: readonly TxOp[]): TxOp[][] {
  const out: TxOp[][] = [];
  let cur: TxOp[] = [];
  let bytes = 0;
  for (const op of ops) {
    const b = opBytes([op]);
    if (cur.length > 0 && (cur.length >= RECORD_BATCH_NODES || bytes + b > RECORD_BATCH_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(op);
    bytes += b;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * A node record within its bounds (task-bounds.ts): at most MAX_HISTORY attempts, error and reason texts
 * cut to MAX_TEXT_BYTES (MAX_ATTEMPT_TEXT_BYTES in the history). Applied to every write, so a node redriven
 * again and again, or an action failing with a megabyte of stderr, never outgrows ZooKeeper. The attempts
 * dropped are the oldest that are not counted failures, then the oldest: the runner counts failures from
 * the history, and at most 101 of them (retry.count ≤ 100) ever matter.
 */
export function boundNodeRecord(r: NodeRecord): NodeRecord {
  const over = (s: string | undefined, max: number): s is string => s !== undefined && s.length > max / 4 && Buffer.byteLength(s) > max;
  if (r.history.length <= MAX_HISTORY && !over(r.error, MAX_TEXT_BYTES) && !over(r.reason, MAX_TEXT_BYTES) && !r.history.some((h) => over(h.error, MAX_ATTEMPT_TEXT_BYTES))) return r;
  let history = r.history;
  if (history.length > MAX_HISTORY) {
    let drop = history.length - MAX_HISTORY;
    const countedFailure = (h: (typeof history)[number]) => Boolean(h.error) && h.counted !== false;
    history = history.filter((h) => (drop > 0 && !countedFailure(h) ? (drop--, false) : true));
    history = history.slice(-MAX_HISTORY);
  }
  history = history.map((h) => (over(h.error, MAX_ATTEMPT_TEXT_BYTES) ? { ...h, error: clip(h.error, MAX_ATTEMPT_TEXT_BYTES) } : h));
  const out: NodeRecord = { ...r, history };
  if (over(r.error, MAX_TEXT_BYTES)) out.error = clip(r.error);
  if (over(r.reason, MAX_TEXT_BYTES)) out.reason = clip(r.reason);
  return out;
}

export const isTerminalNode = (s: NodeState): boolean => TERMINAL_NODE_STATES.includes(s);

/**
 * How many nodes of a task are terminal, by state. Updated in the same transaction as the node record that
 * changes, so it is exact, and settling a task or checking the circuit breaker reads a few znodes instead of
 * every node record (which made a rollout O(n²) reads).
 *
 * The counts are split over PROGRESS_SHARDS records, a node's end counting in its own shard: every node end is
 * a compare-and-set of its counter, in the transaction that also gives its grant back, and with one counter
 * per task the nodes of a wave that end together lost that race to each other over and over (a 1,000-node
 * rollout at limit 100 measured ~7 BAD_VERSION retries per node end, its grants released seconds late, and
 * 1,000 noop nodes at once took minutes); a shard sees 1/16 of them. Readers sum the shards.
 */
export interface Progress {
  terminal: number;
  SUCCEEDED: number;
  DEAD: number;
  SKIPPED: number;
}

const emptyProgress = (): Progress => ({ terminal: 0, SUCCEEDED: 0, DEAD: 0, SKIPPED: 0 });
const controlData = (t: TaskRecord): Buffer => toJsonBuffer({ state: t.state, paused: Boolean(t.paused), at: t.updatedAt } satisfies ControlRecord);
export const PROGRESS_SHARDS = 16;

/**
 * A progress shard as stored: its counts, and how many of the task's targets count in it (fixed when the task
 * is recorded; absent in shards recorded before it was kept). A node's end needs only its own shard to know
 * that the task cannot be done yet (its shard still has targets to end), which is true of nearly every node
 * end. `shards` (recorded with the end markers, see EndMarkers): how many of the task's shards have targets.
 */
export interface ProgressShard extends Progress {
  targets?: number;
  shards?: number;
}

/**
 * The task's progress record (the parent of the shards), for a task recorded with end markers: how many
 * shards have targets, and the DEAD count over every shard (the circuit breaker's count, written only by the
 * moves into or out of DEAD). (A task recorded before has the plain counts of a Progress here, unused once it
 * has shards; one recorded before the split keeps its only counts here.)
 *
 * End markers: `tasks/<id>/ended/<shard>-<succeeded>-<dead>-<skipped>`, one per complete shard (every target
 * terminal), named by its counts. Created, renamed or removed in the transaction that moves its shard into,
 * within or out of complete, with a write of `ended` itself (any version: it never conflicts) whose version
 * then guards a settle. Creates of different names never conflict, so the ends of a last wave, each
 * completing a shard at the same moment, do not race each other for one record (as they would for a shared
 * counter, one compare-and-set round each after the other); whether the task is done is one listing of
 * `ended`, and its counts are in the names.
 */
export interface ProgressSummary {
  /** The shards with at least one target: the task is done when that many shards are complete. */
  shards: number;
  /** DEAD nodes over every shard (the circuit breaker's count). */
  dead: number;
}

const isSummary = (v: unknown): v is ProgressSummary => typeof v === 'object' && v !== null && typeof (v as ProgressSummary).shards === 'number' && typeof (v as ProgressSummary).dead === 'number';

/** An end marker's name: the shard and its counts. */
const markerName = (shard: number, p: Progress): string => `${shard}-${p.SUCCEEDED}-${p.DEAD}-${p.SKIPPED}`;

/** The counts summed over end markers' names (unparsable names are not counted). */
function markerCounts(names: readonly string[]): Progress {
  const out = emptyProgress();
  for (const n of names) {
    const [, ok, dead, skipped] = n.split('-').map(Number);
    if (ok === undefined || dead === undefined || skipped === undefined || [ok, dead, skipped].some((x) => !Number.isInteger(x))) continue;
    out.SUCCEEDED += ok;
    out.DEAD += dead;
    out.SKIPPED += skipped;
    out.terminal += ok + dead + skipped;
  }
  return out;
}

/** The progress shard a node's end counts in: a stable hash of its name. */
export function progressShardOf(node: string): number {
  let h = 0;
  for (let i = 0; i < node.length; i++) h = (Math.imul(h, 31) + node.charCodeAt(i)) | 0;
  return (h >>> 0) % PROGRESS_SHARDS;
}

/** How many of `targets` count in each progress shard. */
function shardTargets(targets: readonly string[]): number[] {
  const out = new Array<number>(PROGRESS_SHARDS).fill(0);
  for (const t of targets) out[progressShardOf(t)] = (out[progressShardOf(t)] ?? 0) + 1;
  return out;
}

function adjust(p: Progress, state: NodeState, by: 1 | -1): void {
  if (state === 'SUCCEEDED' || state === 'DEAD' || state === 'SKIPPED') {
    p[state] += by;
    p.terminal += by;
  }
}

/** What a node's end written by this store says about settling (see settleIfDone). */
type EndSeen =
  /** Its shard still had targets to end: the end that completes the shard settles, or passes it on. */
  | 'open'
  /** It completed its shard, of `shards` with targets: if every other one is complete too, it settles. */
  | { shards: number };

/**
 * What the circuit breaker needs: the task's DEAD nodes, and how many nodes are known to have ended (exact
 * once every target has ended, below the target count before: `ended >= targetCount` says whether all did).
 */
export interface EndCounts {
  dead: number;
  ended: number;
}

/** How many node ends `TaskStore` remembers for settleIfDone (a runner settles right after its own end). */
const ENDS_REMEMBERED = 256;

export class TaskStore {
  readonly paths: ZkPaths;
  /**
   * The node ends this store wrote, by "<task>\n<node>", with what the write showed about settling: then
   * settleIfDone for that end needs no read at all (most ends), or only the task record (the last end).
   * Oldest first, at most ENDS_REMEMBERED.
   */
  private readonly endsWritten = new Map<string, EndSeen>();

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
   * Records a task; returns false when it already exists (a redelivered or duplicated message): the caller
   * must not record or fan it out again, only resume what the record says is left.
   *
   * A task whose node records fit one bounded ZooKeeper request is recorded all or nothing, in state
   * `routing` with every node QUEUED. A bigger one cannot be (ZooKeeper drops a request over jute.maxbuffer,
   * 1 MB): it is created `recording`, with its target list saved in chunks and, in the same transaction,
   * the ephemeral `fanout` marker, so this session alone records it; `recordNodes` then adds the node
   * records in batches and flips it to `routing`. A `recording` task is never settled nor fanned out, and a
   * router that finds one with no live marker (its recorder died) finishes the recording.
   * Throws TaskTooLargeError (not retryable) when the task exceeds the bounds of task-bounds.ts.
   */
  async createTask(n: NewTask): Promise<boolean> {
    const now = this.iso();
    const id = n.task.taskId;
    const wire = specToWire(n.task.spec);
    checkTaskBounds(JSON.stringify(wire), n.targets);
    // An explicit node list is the target list (ExplicitDiscovery): it is kept once, in the target chunks.
    const listed = wire.nodes ?? [];
    const keptOut = listed.length > 0 && n.state !== 'failed' && listed.length === n.targets.length && listed.every((node, i) => node === n.targets[i]);
    const spec = keptOut ? { ...wire, nodes: [] } : wire;
    const nodeOps = n.state === 'failed' ? [] : this.nodeCreates(id, n.targets, now, n.notes);
    const small = nodeOps.length <= RECORD_BATCH_NODES && opBytes(nodeOps) <= RECORD_BATCH_BYTES;
    const chunks = chunksOf(n.targets, TARGET_CHUNK_NODES);
    const record: TaskRecord = {
      taskId: id,
      spec,
      emittedBy: n.task.emittedBy,
      emittedAt: n.task.emittedAt,
      state: n.state === 'failed' ? 'failed' : small ? 'routing' : 'recording',
      targetCount: n.targets.length,
      limit: n.limit,
      maxFailures: n.maxFailures,
      updatedAt: now,
      ...(n.reason ? { reason: n.reason } : {}),
      ...(n.state === 'failed' ? { endedAt: now } : {}),
      ...(small ? {} : { recording: { chunks: chunks.length, digest: digestOf(n.targets) } }),
      ...(keptOut ? { nodesDigest: digestOf(listed) } : {}),
    };
    const ops: TxOp[] = [
      { op: 'create', path: this.paths.task(id), data: toJsonBuffer(record) },
      { op: 'create', path: this.paths.control(id), data: controlData(record) },
      { op: 'create', path: this.paths.nodes(id), data: Buffer.alloc(0) },
      ...this.progressCreates(id, n.targets),
      { op: 'create', path: this.paths.targets(id), data: Buffer.alloc(0) },
      { op: 'create', path: this.paths.taskIndexEntry(id, n.task.emittedAt), data: Buffer.alloc(0) },
    ];
    if (small) {
      chunks.forEach((c, i) => ops.push({ op: 'create', path: this.paths.targetChunk(id, i), data: toJsonBuffer(c) }));
      ops.push(...nodeOps);
    } else {
      ops.push({ op: 'create', path: this.paths.fanout(id), data: toJsonBuffer({ session: this.coordinator.sessionId, at: now }), mode: 'ephemeral' });
    }
    await Promise.all([this.coordinator.mkdirp(this.paths.tasks), this.coordinator.mkdirp(this.paths.taskIndex)]);
    try {
      await this.coordinator.transaction(ops);
    } catch (err) {
      if (isNodeExists(err)) return false;
      throw err;
    }
    if (!small) await this.saveTargetChunks(id, chunks);
    return true;
  }

  /** The task's progress record, its shards (each with its target count, all zero) and its end markers' parent. */
  private progressCreates(taskId: string, targets: readonly string[]): TxOp[] {
    const perShard = shardTargets(targets);
    const shards = perShard.filter((t) => t > 0).length;
    return [
      { op: 'create', path: this.paths.progress(taskId), data: toJsonBuffer({ shards, dead: 0 } satisfies ProgressSummary) },
      ...perShard.map((targets, i): TxOp => ({ op: 'create', path: this.paths.progressShard(taskId, i), data: toJsonBuffer({ ...emptyProgress(), targets, shards } satisfies ProgressShard) })),
      { op: 'create', path: this.paths.ended(taskId), data: Buffer.alloc(0) },
    ];
  }

  private nodeCreates(taskId: string, targets: readonly string[], now: string, notes?: ReadonlyMap<string, string>): TxOp[] {
    return targets.map((node) => {
      const note = notes?.get(node);
      const nr: NodeRecord = { node, state: 'QUEUED', attempts: 0, updatedAt: now, history: [], ...(note ? { reason: note } : {}) };
      return { op: 'create', path: this.paths.node(taskId, node), data: toJsonBuffer(nr) };
    });
  }

  /** Creates the target chunks that do not exist yet (one request each, at most TARGET_CHUNK_NODES names). */
  private async saveTargetChunks(taskId: string, chunks: string[][]): Promise<void> {
    await mapLimit(chunks.map((c, i) => ({ c, i })), 8, async ({ c, i }) => {
      try {
        await this.coordinator.create(this.paths.targetChunk(taskId, i), toJsonBuffer(c));
      } catch (err) {
        if (!isNodeExists(err)) throw err;
      }
    });
  }

  /** The task's target nodes, in order; undefined while a chunk is missing (a recording cut short). */
  async getTargets(taskId: string): Promise<string[] | undefined> {
    const kids = await this.coordinator.children(this.paths.targets(taskId));
    if (!kids) {
      // Recorded before target chunks existed: its node records are its targets.
      const nodes = await this.coordinator.children(this.paths.nodes(taskId));
      return nodes?.map(decodeSegment).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    }
    const task = await this.getTask(taskId);
    const want = task?.value.recording?.chunks ?? kids.length;
    if (kids.length < want) return undefined;
    const parts = await mapLimit(
      Array.from({ length: want }, (_, i) => i),
      8,
      async (i) => {
        const d = await this.coordinator.get(this.paths.targetChunk(taskId, i));
        return d ? fromJsonBuffer<string[]>(d.data) : undefined;
      },
    );
    if (parts.some((p) => p === undefined)) return undefined;
    return (parts as string[][]).flat();
  }

  /**
   * The target list of a `recording` task, for the router that finishes recording it: the saved chunks,
   * or, when the recorder died before saving them all, `resolve()`'s list if it is the same list (same
   * sha256) — explicit and static targets always are. Throws TargetsLostError otherwise.
   */
  async recordingTargets(taskId: string, resolve: () => Promise<string[]>): Promise<string[]> {
    const task = await this.getTask(taskId);
    const rec = task?.value.recording;
    if (!task || !rec) throw new TaskermanError('NOT_FOUND', `task ${taskId} is not being recorded`);
    const saved = await this.getTargets(taskId);
    if (saved && digestOf(saved) === rec.digest) return saved;
    const again = await resolve();
    if (digestOf(again) !== rec.digest) throw new TargetsLostError(taskId);
    await this.saveTargetChunks(taskId, chunksOf(again, TARGET_CHUNK_NODES));
    return again;
  }

  /**
   * Finishes recording a `recording` task (the caller holds its fanout marker): creates the node records
   * that do not exist yet, in transactions of at most RECORD_BATCH_NODES records and RECORD_BATCH_BYTES,
   * then moves the task to `routing`. A task cancelled or halted meanwhile keeps its state, and its nodes
   * just recorded end SKIPPED. Returns the task record as it is afterwards.
   */
  async recordNodes(taskId: string, targets: readonly string[], notes?: ReadonlyMap<string, string>): Promise<TaskRecord | undefined> {
    const have = new Set(((await this.coordinator.children(this.paths.nodes(taskId))) ?? []).map(decodeSegment));
    const now = this.iso();
    const ops = this.nodeCreates(taskId, targets.filter((t) => !have.has(t)), now, notes);
    for (const batch of batchOps(ops)) {
      try {
        await this.coordinator.transaction(batch);
      } catch (err) {
        // Only a recorder whose session died can have written these (the marker keeps out everyone else);
        // a transaction whose outcome was lost with the connection may have landed too. One by one, then.
        if (!isNodeExists(err) && !isConnectionLoss(err)) throw err;
        if (isConnectionLoss(err)) await delay(CONNECTION_RETRY_MS);
        for (const op of batch) {
          if (op.op !== 'create') continue;
          try {
            await this.coordinator.create(op.path, op.data);
          } catch (e) {
            if (!isNodeExists(e)) throw e;
          }
        }
      }
    }
    const after = await this.updateTask(taskId, (t) => {
      if (t.state !== 'recording') return undefined;
      const next: TaskRecord = { ...t, state: 'routing' };
      delete next.recording;
      return next;
    });
    if (after?.state === 'halted' || after?.state === 'cancelled') {
      await this.skipQueued(taskId, after.state === 'cancelled' ? `task cancelled by ${after.cancelled?.by ?? 'someone'}` : `task halted${after.reason ? `: ${after.reason}` : ''}`);
    }
    return after;
  }

  /**
   * Fails a task that could not be recorded (TargetsLostError): its state becomes `failed` with the reason,
   * and the node records made so far, never sent to any runner, end SKIPPED with it.
   */
  async failRecording(taskId: string, reason: string): Promise<void> {
    const t = await this.updateTask(taskId, (cur) => {
      if (cur.state !== 'recording') return undefined;
      const next: TaskRecord = { ...cur, state: 'failed', reason, endedAt: this.iso() };
      delete next.recording;
      return next;
    });
    if (t?.state !== 'failed') return;
    for (const n of await this.listNodes(taskId)) {
      if (n.state === 'QUEUED') await this.updateNode(taskId, n.node, (cur) => (cur.state === 'QUEUED' ? { ...cur, state: 'SKIPPED', reason, endedAt: this.iso() } : undefined));
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
   * its spec's name, a CLI task's with a timestamp. Reads the task index (one listing) and then only the
   * records shown, so it costs the same with 20 tasks recorded or 20,000. Tasks recorded before the index
   * existed (fewer index entries than tasks) are found the slow way, by reading every record.
   */
  /** The `last` most recently emitted tasks (among those `filter` keeps), newest first, with their progress. */
  async recentTasks(last: number, filter: (t: TaskRecord) => boolean = () => true): Promise<Array<{ task: TaskRecord; progress: Progress | undefined }>> {
    const [entries, ids] = await Promise.all([this.coordinator.children(this.paths.taskIndex), this.coordinator.children(this.paths.tasks)]);
    const withProgress = (tasks: TaskRecord[]) => mapLimit(tasks, 16, async (task) => ({ task, progress: await this.getProgress(task.taskId) }));
    const indexed = (entries ?? []).map((e) => ({ time: e.slice(0, e.indexOf('~')), id: decodeSegment(e.slice(e.indexOf('~') + 1)) }));
    if ((ids ?? []).length > indexed.length) {
      const recs = await mapLimit((ids ?? []).map(decodeSegment), 16, (id) => this.getTask(id));
      const tasks = recs
        .filter((r): r is Versioned<TaskRecord> => r !== undefined)
        .map((r) => r.value)
        .filter(filter)
        .sort((a, b) => b.emittedAt.localeCompare(a.emittedAt) || b.taskId.localeCompare(a.taskId))
        .slice(0, last);
      return withProgress(tasks);
    }
    indexed.sort((a, b) => b.time.localeCompare(a.time) || b.id.localeCompare(a.id));
    const tasks: TaskRecord[] = [];
    // An entry whose task was just removed by the cleaner is skipped; read a few more to make up for it.
    for (let i = 0; i < indexed.length && tasks.length < last; ) {
      const slice = indexed.slice(i, i + (last - tasks.length));
      i += slice.length;
      const recs = await mapLimit(slice, 16, (e) => this.getTask(e.id));
      for (const r of recs) if (r && filter(r.value)) tasks.push(r.value);
    }
    return withProgress(tasks);
  }

  async listNodes(taskId: string): Promise<NodeRecord[]> {
    const kids = (await this.coordinator.children(this.paths.nodes(taskId))) ?? [];
    const recs = await Promise.all(kids.map((k) => this.getNode(taskId, decodeSegment(k))));
    return recs
      .filter((r): r is Versioned<NodeRecord> => r !== undefined)
      .map((r) => r.value)
      .sort((a, b) => a.node.localeCompare(b.node, 'en', { numeric: true }));
  }

  /**
   * Compare-and-set on the task record. A change runners must act on (runnersMustKnow) rewrites the task's
   * control record in the same transaction: that is what their followers watch.
   */
  async updateTask(taskId: string, fn: Mutator<TaskRecord>): Promise<TaskRecord | undefined> {
    const path = this.paths.task(taskId);
    const control = this.paths.control(taskId);
    // A task recorded before control records has none: its runners follow the task record itself.
    let hasControl = true;
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      try {
        const d = await this.coordinator.get(path);
        if (!d) return undefined;
        const cur = fromJsonBuffer<TaskRecord>(d.data);
        const next = fn(cur);
        if (next === undefined) return cur;
        next.updatedAt = this.iso();
        if (hasControl && runnersMustKnow(cur, next)) {
          await this.coordinator.transaction([
            { op: 'set', path, data: toJsonBuffer(next), version: d.stat.version },
            { op: 'set', path: control, data: controlData(next), version: -1 },
          ]);
        } else {
          await this.coordinator.set(path, toJsonBuffer(next), d.stat.version);
        }
        return next;
      } catch (err) {
        if (err instanceof CoordinatorError && err.code === 'NO_NODE' && err.path === control) {
          hasControl = false;
          continue;
        }
        if ((await nextRound(err, i)) === 'gone') return undefined;
      }
    }
    throw new CoordinatorError('BAD_VERSION', path, `gave up updating ${path} after ${CAS_ATTEMPTS} conflicting writes`);
  }

  /**
   * The router has sent every work item: `routed`, or straight to `running` when a node has already started
   * (a rollout's first nodes start while the rest are being sent), in one write. `started` is looked at again
   * after a `routed` write: a runner whose start came in between read the task as `routing` and left the
   * change to us (see noteStarted).
   */
  async markFannedOut(taskId: string): Promise<TaskRecord | undefined> {
    const started = this.paths.started(taskId);
    const toState = (state: 'routed' | 'running') =>
      this.updateTask(taskId, (t) => (t.state === 'routing' || (state === 'running' && t.state === 'routed') ? { ...t, state, routedAt: t.routedAt ?? this.iso() } : undefined));
    if (await this.coordinator.exists(started)) return toState('running');
    const after = await toState('routed');
    if (after?.state === 'routed' && (await this.coordinator.exists(started))) return toState('running');
    return after;
  }

  /**
   * A node of the task has started: the first start of a task marks it (`started`, one small create) and, if
   * the router has sent every item already, moves it from `routed` to `running`. Later starts find the marker
   * and stop there. Which of the two writes `running` does not matter: the router looks at the marker after
   * its own write, and a start looks at the state after its own marker, so one of them sees the other.
   */
  async noteStarted(taskId: string): Promise<void> {
    const marker = this.paths.started(taskId);
    // A read first: most starts of a big task find the marker, and a create refused costs ZooKeeper a write.
    if (await this.coordinator.exists(marker)) return;
    try {
      await this.coordinator.create(marker, Buffer.alloc(0));
    } catch (err) {
      if (isNodeExists(err) || isNoNode(err)) return;
      throw err;
    }
    await this.updateTask(taskId, (t) => (t.state === 'routed' ? { ...t, state: 'running' } : undefined));
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
   * (one ZooKeeper round trip less on the path from a grant to the action), and falls back to reading on a
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
    const guardPath = guard?.path ?? this.paths.task(taskId);
    const guardOps: TxOp[] = [...(guard ? [{ op: 'check', path: guardPath, version: guard.version } as TxOp] : []), ...extra];
    // The node record as last read or known; kept across a round lost on the progress shard alone (the node's
    // record did not change: only the counter did), so that round re-reads the shard and not the record.
    let have = known;
    // The node's shard as read in a round lost on the DEAD count alone (the shard's op, before it in the
    // transaction, passed its version check): the next round reads the DEAD count only.
    let keptShard: NodeData | undefined;
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      let shardLost = false;
      let shardRead: NodeData | undefined;
      const shardKnown = keptShard;
      keptShard = undefined;
      let lastRead: Versioned<NodeRecord> | undefined;
      try {
        let cur: NodeRecord;
        let version: number;
        if (have) {
          cur = have.value;
          version = have.version;
          have = undefined;
        } else {
          const d = await this.coordinator.get(path);
          if (!d) return undefined;
          cur = fromJsonBuffer<NodeRecord>(d.data);
          version = d.stat.version;
        }
        lastRead = { value: cur, version };
        const fresh = fn(cur);
        if (fresh === undefined) return { value: cur, version };
        const next = boundNodeRecord(fresh);
        next.updatedAt = this.iso();
        const countsUnchanged = cur.state === next.state || (!isTerminalNode(cur.state) && !isTerminalNode(next.state));
        if (countsUnchanged && guardOps.length === 0) {
          await this.coordinator.set(path, toJsonBuffer(next), version);
        } else if (countsUnchanged) {
          await this.coordinator.transaction([...guardOps, { op: 'set', path, data: toJsonBuffer(next), version }]);
        } else {
          const seen = await this.writeEnd(taskId, node, cur.state, next.state, [...guardOps, { op: 'set', path, data: toJsonBuffer(next), version }], (read) => {
            shardLost = true;
            shardRead = read;
          }, shardKnown);
          if (isTerminalNode(next.state)) this.rememberEnd(taskId, node, seen);
          else this.endsWritten.delete(`${taskId}\n${node}`);
        }
        return { value: next, version: version + 1 };
      } catch (err) {
        if (guard && err instanceof CoordinatorError && err.path === guardPath && (err.code === 'BAD_VERSION' || err.code === 'NO_NODE')) {
          throw new TaskChangedError(taskId);
        }
        // An extra op's own failure is the caller's to handle (e.g. the grant was released meanwhile).
        // (A lost connection is not such a failure: the round is retried like any other.)
        if (err instanceof CoordinatorError && (err.code === 'NO_NODE' || err.code === 'BAD_VERSION') && extra.some((op) => op.path === err.path) && err.path !== path) throw err;
        if ((await nextRound(err, i)) === 'gone') return undefined;
        // Another node's end in the same shard won the counter: our record still stands as we read it.
        if (shardLost && isBadVersion(err) && err instanceof CoordinatorError && err.path !== undefined && err.path !== path && err.path.startsWith(progressPath)) {
          have = lastRead;
          if (err.path === progressPath) keptShard = shardRead;
        }
      }
    }
    throw new CoordinatorError('BAD_VERSION', path, `gave up updating ${path} after ${CAS_ATTEMPTS} conflicting writes`);
  }

  /**
   * Writes `ops` (a node record's move into or out of a terminal state, and its guards) with the task's
   * progress counts in one transaction: the node's shard; its end marker when the shard is or was complete;
   * the DEAD count when it moves (a task recorded before the split: its one progress record). Calls `counted`
   * with the shard it read just before the transaction (a failure on a count from there on is a race with
   * another end, not with this node's record). `known`: the node's shard as read in a round that lost on the
   * DEAD count only. Returns what the write shows about settling.
   */
  private async writeEnd(taskId: string, node: string, from: NodeState, to: NodeState, ops: TxOp[], counted: (shard: NodeData | undefined) => void, known?: NodeData): Promise<EndSeen | undefined> {
    const progressPath = this.paths.progress(taskId);
    // The node's shard; a task recorded before the counts were split has only the progress record.
    const index = progressShardOf(node);
    const shardPath = this.paths.progressShard(taskId, index);
    const shard = known ?? (await this.coordinator.get(shardPath));
    const counterPath = shard ? shardPath : progressPath;
    const p = shard ?? (await this.coordinator.get(progressPath));
    if (!p) throw new CoordinatorError('NO_NODE', progressPath, `task ${taskId} has no progress record`);
    const before = fromJsonBuffer<ProgressShard>(p.data);
    const after: ProgressShard = { ...before };
    adjust(after, from, -1);
    adjust(after, to, 1);
    const counts: TxOp[] = [{ op: 'set', path: counterPath, data: toJsonBuffer(after), version: p.stat.version }];
    const targets = shard ? before.targets : undefined;
    const marked = typeof targets === 'number' && typeof before.shards === 'number';
    if (marked) {
      const was = before.terminal >= targets;
      const is = after.terminal >= targets;
      const ended = this.paths.ended(taskId);
      if (was) counts.push({ op: 'remove', path: joinPath(ended, markerName(index, before)), version: -1 });
      if (is) counts.push({ op: 'create', path: joinPath(ended, markerName(index, after)), data: Buffer.alloc(0) });
      if (was || is) counts.push({ op: 'set', path: ended, data: Buffer.alloc(0), version: -1 });
      // Read only by the moves into or out of DEAD: failures, and their redrives.
      if (before.DEAD !== after.DEAD) {
        const s = await this.coordinator.get(progressPath);
        if (!s) throw new CoordinatorError('NO_NODE', progressPath, `task ${taskId} has no progress record`);
        const read = fromJsonBuffer<ProgressSummary>(s.data);
        counts.push({ op: 'set', path: progressPath, data: toJsonBuffer({ ...read, dead: read.dead + after.DEAD - before.DEAD } satisfies ProgressSummary), version: s.stat.version });
      }
    }
    counted(shard);
    await this.coordinator.transaction([...ops, ...counts]);
    if (typeof targets !== 'number') return undefined;
    if (after.terminal < targets) return 'open';
    // (An old shard with target counts and no end markers: whoever settles reads every shard.)
    return marked ? { shards: before.shards as number } : undefined;
  }

  private rememberEnd(taskId: string, node: string, seen: EndSeen | undefined): void {
    const key = `${taskId}\n${node}`;
    this.endsWritten.delete(key);
    if (seen === undefined) return;
    this.endsWritten.set(key, seen);
    if (this.endsWritten.size > ENDS_REMEMBERED) this.endsWritten.delete(this.endsWritten.keys().next().value as string);
  }

  async getProgress(taskId: string): Promise<Progress | undefined> {
    return (await this.getProgressGuarded(taskId))?.value;
  }

  /**
   * The counts summed over the shards, with a `check` op per record read: a transaction that carries them
   * fails if any count changed meanwhile. Undefined when the task has no progress record.
   */
  async getProgressGuarded(taskId: string): Promise<{ value: Progress; checks: TxOp[] } | undefined> {
    const paths = await this.progressPaths(taskId);
    if (paths === undefined) return undefined;
    const recs = await Promise.all(paths.map((p) => this.coordinator.get(p)));
    const value = emptyProgress();
    const checks: TxOp[] = [];
    recs.forEach((d, i) => {
      if (!d) return;
      const part = fromJsonBuffer<Progress>(d.data);
      for (const k of Object.keys(value) as Array<keyof Progress>) value[k] += part[k];
      checks.push({ op: 'check', path: paths[i] as string, version: d.stat.version });
    });
    return { value, checks };
  }

  /**
   * The records that hold a task's counts: its progress shards, or its progress record itself when it was
   * recorded before the shards. Undefined when the task has no progress record.
   */
  async progressPaths(taskId: string): Promise<string[] | undefined> {
    const path = this.paths.progress(taskId);
    const shards = await this.coordinator.children(path);
    if (shards === undefined) return undefined;
    return shards.length > 0 ? shards.map((s) => joinPath(path, s)) : [path];
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
   *
   * What it reads (a task recorded with end markers, see ProgressSummary):
   * - `endedNode`, an end this store wrote that left its shard incomplete: nothing. The end that completes
   *   the shard looks.
   * - `endedNode`, an end this store wrote that completed its shard: the list of end markers; while a shard
   *   is not complete, that is all. The ends completing the last shards each list the markers after their own
   *   write, so the one written last sees them all; it then reads the markers' version, the list again (its
   *   counts are in the names) and the task record, and settles guarded on that version.
   * - otherwise (an end written elsewhere: a duplicate work item, a redrive, a resume, the breaker): the
   *   progress record first (which says how many shards there are), then as above.
   * A task recorded before the markers existed reads the node's shard, then the task record and every shard.
   */
  async settleIfDone(taskId: string, endedNode?: string): Promise<TaskRecord | undefined> {
    const taskPath = this.paths.task(taskId);
    const ended = this.paths.ended(taskId);
    let shards: number | undefined;
    if (endedNode !== undefined) {
      const key = `${taskId}\n${endedNode}`;
      const seen = this.endsWritten.get(key);
      this.endsWritten.delete(key);
      if (seen === 'open') return undefined;
      if (seen !== undefined) shards = seen.shards;
    }
    if (shards === undefined) {
      const rec = await this.readSummary(taskId);
      if (!rec) return undefined;
      if (rec !== 'before-markers') shards = rec.shards;
      else if (endedNode !== undefined) {
        // Recorded before the markers: while the node's shard has targets left to end, nothing to do.
        const sd = await this.coordinator.get(this.paths.progressShard(taskId, progressShardOf(endedNode)));
        const shard = sd ? fromJsonBuffer<ProgressShard>(sd.data) : undefined;
        if (typeof shard?.targets === 'number' && shard.terminal < shard.targets) return undefined;
      }
    }
    if (shards !== undefined && ((await this.coordinator.children(ended)) ?? []).length < shards) return undefined;
    for (let i = 0; i < CAS_ATTEMPTS; i++) {
      try {
        let counts: { value: Progress; checks: TxOp[] } | undefined;
        if (shards !== undefined) {
          // The version first, then the list: a marker moved after the version was read fails the settle.
          const version = await this.coordinator.exists(ended);
          const names = await this.coordinator.children(ended);
          if (!version || !names || names.length < shards) return undefined;
          counts = { value: markerCounts(names), checks: [{ op: 'check', path: ended, version: version.version }] };
        }
        const task = await this.getTask(taskId);
        if (!task || FINAL_TASK_STATES.includes(task.value.state) || task.value.resuming || task.value.state === 'recording') return undefined;
        const progress = counts ?? (await this.getProgressGuarded(taskId));
        const total = task.value.targetCount;
        if (!progress || total === 0 || progress.value.terminal < total) return undefined;
        const p = progress.value;
        const ok = p.SUCCEEDED === total;
        const now = this.iso();
        const next: TaskRecord = { ...task.value, state: ok ? 'succeeded' : 'failed', endedAt: now, updatedAt: now };
        if (!ok) next.reason = `${total - p.SUCCEEDED} of ${total} nodes did not succeed (${p.DEAD} dead, ${p.SKIPPED} skipped)`;
        await this.coordinator.transaction([
          ...progress.checks,
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

  /**
   * The DEAD count and how many nodes are known to have ended (EndCounts): the progress record and the list of
   * end markers, or, for a task recorded before them, every shard. Undefined when the task has no progress record.
   */
  async getEndCounts(taskId: string): Promise<EndCounts | undefined> {
    const rec = await this.readSummary(taskId);
    if (!rec) return undefined;
    if (rec !== 'before-markers') return { dead: rec.dead, ended: markerCounts((await this.coordinator.children(this.paths.ended(taskId))) ?? []).terminal };
    const p = await this.getProgress(taskId);
    return p && { dead: p.DEAD, ended: p.terminal };
  }

  /** Number of nodes that have failed for good; the circuit breaker compares it with max_failures. */
  async countDead(taskId: string): Promise<number> {
    const rec = await this.readSummary(taskId);
    if (rec && rec !== 'before-markers') return rec.dead;
    return (await this.getProgress(taskId))?.DEAD ?? 0;
  }

  /** The task's progress record: its summary, 'before-markers' for a task recorded before end markers, or undefined when it has none. */
  private async readSummary(taskId: string): Promise<ProgressSummary | 'before-markers' | undefined> {
    const d = await this.coordinator.get(this.paths.progress(taskId));
    if (!d) return undefined;
    const rec: unknown = fromJsonBuffer(d.data);
    return isSummary(rec) ? rec : 'before-markers';
  }
}
