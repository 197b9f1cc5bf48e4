// What bounds a task, in one place. ZooKeeper refuses a request or a znode larger than jute.maxbuffer
// (1 MB by default) by dropping the connection, so nothing Taskerman writes may grow without a bound, and
// every request stays well under that: the largest is a task record (its spec, at most MAX_SPEC_BYTES)
// or one batch of node records (RECORD_BATCH_BYTES). The README's "Limits" section states these figures.
import { TaskermanError } from '../errors.js';

/** Nodes per task. A fleet-wide task over more hosts is split by cluster (a task targets one cluster). */
export const MAX_TARGETS = 10_000;
/** Bytes of a node name (the DNS limit; the spec's node-name rule says the same). */
export const MAX_NODE_NAME_BYTES = 253;
/** Bytes of a task's spec as JSON, explicit node list included (an SQS message is at most 256 KiB anyway). */
export const MAX_SPEC_BYTES = 256 * 1024;
/**
 * Attempts kept in a node record's history; `attempts` still counts them all. Above it the oldest attempts
 * that were not counted failures go first, so the runner's count of failures (retry.count is at most 100)
 * is never cut short.
 */
export const MAX_HISTORY = 200;
/** Bytes of a node record's error or reason text. */
export const MAX_TEXT_BYTES = 1024;
/** Bytes of the error text of one attempt in the history. */
export const MAX_ATTEMPT_TEXT_BYTES = 512;
/** Bytes of an action's checkpoint as JSON (enforced by the runner, CHECKPOINT_MAX_BYTES). */
export const MAX_CHECKPOINT_BYTES = 4096;

/** Node records created per ZooKeeper transaction while a task is recorded. */
export const RECORD_BATCH_NODES = 200;
/** ...and at most this many bytes of data and paths in one such transaction. */
export const RECORD_BATCH_BYTES = 128 * 1024;
/** Target names per chunk znode (`tasks/<id>/targets/<n>`): at most 500 × 256 bytes. */
export const TARGET_CHUNK_NODES = 500;

/** A task that can never be recorded (too many nodes, too big a spec): dead-lettered at once, never retried. */
export class TaskTooLargeError extends TaskermanError {
  constructor(message: string, hint: string) {
    super('TASK_TOO_LARGE', message, { retryable: false, hint });
  }
}

/** Throws TaskTooLargeError unless a task of this spec (as JSON) and these targets can be recorded. */
export function checkTaskBounds(specJson: string, targets: readonly string[]): void {
  const specBytes = Buffer.byteLength(specJson, 'utf8');
  if (specBytes > MAX_SPEC_BYTES) {
    throw new TaskTooLargeError(`the task's spec is ${specBytes} bytes as JSON (at most ${MAX_SPEC_BYTES})`, 'shorten args, or give the nodes through an inventory (discovery: static) rather than a list in the spec');
  }
  if (targets.length > MAX_TARGETS) {
    throw new TaskTooLargeError(`the task has ${targets.length} target nodes (at most ${MAX_TARGETS} per task)`, 'split it: one task per cluster, or narrow the discovery');
  }
  const long = targets.find((t) => Buffer.byteLength(t, 'utf8') > MAX_NODE_NAME_BYTES);
  if (long !== undefined) throw new TaskTooLargeError(`node name "${long.slice(0, 40)}..." is longer than ${MAX_NODE_NAME_BYTES} bytes`, 'name nodes by their DNS name, instance id or IP');
}

/** A text cut to at most `max` bytes of UTF-8 (on a character boundary), marked when cut. */
export function clip(text: string, max = MAX_TEXT_BYTES): string {
  if (Buffer.byteLength(text, 'utf8') <= max) return text;
  const buf = Buffer.from(text, 'utf8').subarray(0, max - 3);
  // Dropping a partial multi-byte character at the end leaves U+FFFD, which is removed.
  return `${buf.toString('utf8').replace(/\uFFFD$/, '')}...`;
}

/**
 * Node records a follower (`run --wait`, `status --watch`, the web view) watches one by one, at most: woken by
 * every node's change, it re-reads every node record, so a bigger task is followed at a pace (below).
 */
export const WATCHED_NODES_MAX = 500;
/**
 * A task with more nodes is followed through its task record and its progress shards, and re-read (every
 * node record) at most once per this many milliseconds per node, and never more often than once a second:
 * 20 s for 10,000 nodes, about 500 reads a second. A change of the task record (an end, a pause) is read at once.
 */
export const BIG_TASK_READ_MS_PER_NODE = 2;
