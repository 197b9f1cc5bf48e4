// The emitted task (a spec with an id and who asked for it), the per-node work item, the records kept
// in ZooKeeper, and the queue message envelopes with their parsers. Messages are untrusted input:
// everything read from a queue goes through `parseTaskMessage` / `parseWorkMessage`.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { MessageError, SpecError } from '../errors.js';
import { parseTaskSpec, specToWire, type TaskSpec } from './task-spec.js';

export const TASK_STATES = ['recording', 'routing', 'routed', 'running', 'succeeded', 'failed', 'halted', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const FINAL_TASK_STATES: readonly TaskState[] = ['succeeded', 'failed', 'halted', 'cancelled'];

export const NODE_STATES = ['QUEUED', 'WAITING', 'STARTED', 'SUCCEEDED', 'FAILED', 'DEAD', 'SKIPPED'] as const;
export type NodeState = (typeof NODE_STATES)[number];
/** A node in one of these states is done for good: a redelivered work item for it is dropped. */
export const TERMINAL_NODE_STATES: readonly NodeState[] = ['SUCCEEDED', 'DEAD', 'SKIPPED'];

export interface Emitter {
  kind: 'cli' | 'scheduler' | 'api';
  /** The on-call user, or the scheduler's host. */
  user: string;
}

export interface Task {
  taskId: string;
  spec: TaskSpec;
  emittedBy: Emitter;
  emittedAt: string;
}

/** One attempt of one node, as recorded. */
export interface AttemptRecord {
  attempt: number;
  startedAt: string;
  endedAt?: string;
  error?: string;
  /** False for attempts that do not count against the retry budget (grant lost, runner died). */
  counted?: boolean;
  fencingToken?: number;
}

export interface NodeRecord {
  node: string;
  state: NodeState;
  attempts: number;
  startedAt?: string;
  endedAt?: string;
  error?: string;
  reason?: string;
  updatedAt: string;
  history: AttemptRecord[];
  /** Facts the action recorded for later attempts (ActionContext.checkpoint), at most 4 KiB as JSON. */
  checkpoint?: Record<string, unknown>;
}

export interface TaskRecord {
  taskId: string;
  spec: ReturnType<typeof specToWire>;
  emittedBy: Emitter;
  emittedAt: string;
  state: TaskState;
  reason?: string;
  /** How many target nodes; the names are in the task's target chunks (`TaskStore.getTargets`). */
  targetCount: number;
  /**
   * Set while the task is `recording` (too many nodes for one ZooKeeper request: its node records are
   * created in batches): how many target chunks there are, and the sha256 of the target list, so a router
   * that takes over from one that died recovers exactly the same list or refuses.
   */
  recording?: { chunks: number; digest: string };
  /**
   * Set when the spec's explicit node list is kept out of `spec` (whose `nodes` is then empty): the list is the
   * task's target chunks (`TaskStore.getTargets`), and this is its sha256 (a redelivery is compared with it).
   * Every runner of the task reads this record: a 1,000-node list made it 13 KB, read 1,000 times.
   */
  nodesDigest?: string;
  limit: number;
  maxFailures: number;
  routedAt?: string;
  endedAt?: string;
  updatedAt: string;
  /** Set by `taskerman pause`: no node of the task starts until `resume`. */
  paused?: { by: string; at: string };
  /** Set by `taskerman cancel`: the tombstone of a cancelled task. */
  cancelled?: { by: string; at: string };
  /** DEAD nodes already counted when the task was last resumed after a halt; the breaker counts from here. */
  breakerBase?: number;
  resumedAt?: string;
  /**
   * Set while `taskerman resume` queues a halted task's skipped nodes again: the task is not settled
   * meanwhile (its nodes all look terminal until they are queued). A resume that died half-way leaves it
   * set; running `resume` again finishes the job.
   */
  resuming?: { by: string; at: string };
}

/** Time-sortable, unique enough across routers and users: 20261120T225500123Z-3f9a1c2e. */
export function newTaskId(now: Date = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace('.', '');
  return `${ts}-${randomBytes(4).toString('hex')}`;
}

const TASK_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export function isValidTaskId(id: string): boolean {
  return TASK_ID_RE.test(id);
}

// ---- messages ------------------------------------------------------------------------------------

/** Largest body we accept from a queue; SQS caps at 256 KiB anyway. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

const emitterSchema = z.strictObject({ kind: z.enum(['cli', 'scheduler', 'api']), user: z.string().min(1).max(200) });

const taskEnvelope = z.strictObject({
  type: z.literal('task'),
  v: z.literal(1),
  task_id: z.string().regex(TASK_ID_RE, 'must be a task id'),
  emitted_by: emitterSchema,
  emitted_at: z.iso.datetime({ offset: true }),
  spec: z.unknown(),
});

const workEnvelope = z.strictObject({
  type: z.literal('work'),
  v: z.literal(1),
  task_id: z.string().regex(TASK_ID_RE, 'must be a task id'),
  cluster: z.string().min(1).max(200),
  node: z.string().min(1).max(253),
  action: z.string().min(1).max(200),
});

export interface WorkItem {
  taskId: string;
  cluster: string;
  node: string;
  action: string;
}

export function encodeTaskMessage(t: Task): string {
  return JSON.stringify({
    type: 'task',
    v: 1,
    task_id: t.taskId,
    emitted_by: t.emittedBy,
    emitted_at: t.emittedAt,
    spec: specToWire(t.spec),
  });
}

function parseJsonBody(body: string): unknown {
  if (Buffer.byteLength(body, 'utf8') > MAX_MESSAGE_BYTES) throw new MessageError(`message is larger than ${MAX_MESSAGE_BYTES} bytes`);
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new MessageError(`message body is not JSON: ${(err as Error).message}`);
  }
}

function envelopeError(what: string, err: z.ZodError): MessageError {
  const first = err.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`);
  return new MessageError(`not a valid ${what} message: ${first.join('; ')}`);
}

export function parseTaskMessage(body: string): Task {
  const r = taskEnvelope.safeParse(parseJsonBody(body));
  if (!r.success) throw envelopeError('task', r.error);
  let spec: TaskSpec;
  try {
    spec = parseTaskSpec(r.data.spec);
  } catch (err) {
    if (err instanceof SpecError) throw new MessageError(`task ${r.data.task_id} has an invalid spec: ${err.message.replace(/\n/g, '; ')}`, { cause: err });
    throw err;
  }
  return { taskId: r.data.task_id, spec, emittedBy: r.data.emitted_by, emittedAt: r.data.emitted_at };
}

export function encodeWorkMessage(w: WorkItem): string {
  return JSON.stringify({ type: 'work', v: 1, task_id: w.taskId, cluster: w.cluster, node: w.node, action: w.action });
}

export function parseWorkMessage(body: string): WorkItem {
  const r = workEnvelope.safeParse(parseJsonBody(body));
  if (!r.success) throw envelopeError('work', r.error);
  return { taskId: r.data.task_id, cluster: r.data.cluster, node: r.data.node, action: r.data.action };
}
