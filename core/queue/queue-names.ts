// Deterministic, collision-free SQS queue names. SQS allows at most 80 characters of [A-Za-z0-9_-];
// cluster names such as "cassandra:geo_counter" hold other characters, so a name segment that had to be
// changed carries a short hash of the original. The same rule is written in terraform/ (test/unit checks it).
//
//   global:        <prefix>--global            dead letters: <prefix>--global-dlq
//   cluster queue: <prefix>--c--<cluster>      dead letters: <prefix>--c--<cluster>-dlq (shared by the cluster's node queues)
//   node queue:    <prefix>--n--<cluster>--<node>
//
// A segment is [A-Za-z0-9_]+ optionally followed by "-<10 hex>", so "--" only ever separates parts and the
// mapping from (kind, cluster, node) to a name is one-to-one unless two hashes collide (2^-40).
import { createHash } from 'node:crypto';
import { OptionError } from '../errors.js';

export const MAX_QUEUE_NAME = 80;
const DLQ_SUFFIX = '-dlq';
const MAX_BASE = MAX_QUEUE_NAME - DLQ_SUFFIX.length;
const PREFIX_RE = /^[A-Za-z0-9_]{1,24}$/;

export function hash10(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex').slice(0, 10);
}

/** A name segment: kept as is when it is plain and short, else sanitized and suffixed with a hash of the original. */
export function segment(raw: string, max = 40): string {
  if (/^[A-Za-z0-9_]+$/.test(raw) && raw.length <= max) return raw;
  const clean = raw.replace(/[^A-Za-z0-9_]/g, '_').slice(0, max - 11) || '_';
  return `${clean}-${hash10(raw)}`;
}

function fit(base: string, key: string): string {
  if (base.length <= MAX_BASE) return base;
  return `${base.slice(0, MAX_BASE - 11)}-${hash10(key)}`;
}

export function validatePrefix(prefix: string): string {
  if (!PREFIX_RE.test(prefix)) {
    throw new OptionError('queue-prefix', `"${prefix}" must be 1-24 characters of letters, digits or "_" (it starts every queue name)`);
  }
  return prefix;
}

export interface QueueNames {
  prefix: string;
  global: string;
  globalDlq: string;
  cluster(cluster: string): string;
  clusterDlq(cluster: string): string;
  node(cluster: string, node: string): string;
}

export function queueNames(prefix = 'taskerman'): QueueNames {
  validatePrefix(prefix);
  const cluster = (c: string) => fit(`${prefix}--c--${segment(c)}`, `c\0${c}`);
  return {
    prefix,
    global: `${prefix}--global`,
    globalDlq: `${prefix}--global${DLQ_SUFFIX}`,
    cluster,
    clusterDlq: (c) => `${cluster(c)}${DLQ_SUFFIX}`,
    node: (c, n) => fit(`${prefix}--n--${segment(c, 30)}--${segment(n, 30)}`, `n\0${c}\0${n}`),
  };
}

export const isDeadLetterQueue = (name: string): boolean => name.endsWith(DLQ_SUFFIX);
