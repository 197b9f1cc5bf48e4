// Reading and redriving dead-letter queues. Listing does not consume: messages are received with a short
// invisibility so one scan sees each once, then made visible again. Redriving sends a message back to the
// queue it came from and gives its node a fresh attempt budget.
import { DLQ_ATTR } from './dead-letter.js';
import { TaskermanError } from '../errors.js';
import { isDeadLetterQueue, type QueueNames } from './queue-names.js';
import type { TaskStore } from '../task/task-store.js';
import { QueueDoesNotExistError, type QueueMessage, type WorkQueue } from './work-queue.js';

export interface DeadLetter {
  queue: string;
  id: string;
  receiptHandle: string;
  reason: string;
  code: string;
  source: string;
  taskId?: string;
  node?: string;
  attempts?: number;
  deadAt?: string;
  body: string;
}

export interface DeadLetterFilter {
  cluster?: string;
  taskId?: string;
  node?: string;
  messageId?: string;
}

/**
 * The dead-letter queues in scope: one cluster's, or the global one and every cluster's. A queue that does
 * not exist is not an empty queue: a misspelt cluster or a wrong prefix or region throws
 * QueueDoesNotExistError rather than reporting "no dead letters".
 */
export async function deadLetterQueues(queue: WorkQueue, names: QueueNames, cluster?: string): Promise<string[]> {
  const all = async () => (await queue.list(`${names.prefix}--`)).filter(isDeadLetterQueue).sort();
  if (cluster) {
    const dlq = names.clusterDlq(cluster);
    if (await queue.exists(dlq)) return [dlq];
    const known = (await all()).filter((q) => q !== names.globalDlq);
    throw new QueueDoesNotExistError(
      dlq,
      `no dead-letter queue for cluster "${cluster}": check the spelling of --cluster${known.length ? ` (dead-letter queues with this prefix: ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', ...' : ''})` : ''}, --queue-prefix and --region; a cluster's queues are created on its first fan-out`,
    );
  }
  if (!(await queue.exists(names.globalDlq))) {
    throw new QueueDoesNotExistError(names.globalDlq, 'check --queue-prefix / TASKERMAN_QUEUE_PREFIX and --region / AWS_REGION, or apply terraform/ to create the global queues');
  }
  return all();
}

/** The reason as recorded, without a leading copy of its code ("TIMEOUT: TIMEOUT: ..." was printed before). */
export function reasonWithoutCode(reason: string, code: string): string {
  return reason.startsWith(`${code}: `) ? reason.slice(code.length + 2) : reason;
}

function toDeadLetter(q: string, m: QueueMessage): DeadLetter {
  const a = m.attributes;
  const attempts = a[DLQ_ATTR.attempts];
  return {
    queue: q,
    id: m.id,
    receiptHandle: m.receiptHandle,
    reason: reasonWithoutCode(a[DLQ_ATTR.reason] ?? '(moved by the redrive policy: a consumer died holding it too often)', a[DLQ_ATTR.code] ?? 'REDRIVE_POLICY'),
    code: a[DLQ_ATTR.code] ?? 'REDRIVE_POLICY',
    source: a[DLQ_ATTR.source] ?? '',
    ...(a[DLQ_ATTR.taskId] ? { taskId: a[DLQ_ATTR.taskId] } : {}),
    ...(a[DLQ_ATTR.node] ? { node: a[DLQ_ATTR.node] } : {}),
    ...(attempts ? { attempts: Number(attempts) } : {}),
    ...(a[DLQ_ATTR.deadAt] ? { deadAt: a[DLQ_ATTR.deadAt] } : {}),
    body: m.body,
  };
}

const matches = (d: DeadLetter, f: DeadLetterFilter) =>
  (!f.messageId || d.id === f.messageId) && (!f.taskId || d.taskId === f.taskId) && (!f.node || d.node === f.node);

/**
 * Scans dead-letter queues (bounded by `max` messages per queue), calls `visit` for each matching message
 * while it is held, and makes every message it did not consume visible again.
 */
async function scan(queue: WorkQueue, queues: string[], f: DeadLetterFilter, max: number, visit?: (d: DeadLetter) => Promise<boolean>): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for (const q of queues) {
    const held: QueueMessage[] = [];
    try {
      for (let round = 0; held.length < max && round < Math.ceil(max / 10) + 2; round++) {
        const msgs = await queue.receive(q, { max: 10, waitSec: 0, visibilitySec: 60 });
        if (msgs.length === 0) break;
        held.push(...msgs);
      }
      for (const m of held) {
        const d = toDeadLetter(q, m);
        if (!matches(d, f)) continue;
        if (visit && (await visit(d))) {
          m.receiptHandle = '';
          out.push(d);
        } else if (!visit) {
          out.push(d);
        }
      }
    } finally {
      await Promise.all(held.filter((m) => m.receiptHandle).map((m) => queue.changeVisibility(q, m.receiptHandle, 0).catch(() => undefined)));
    }
  }
  return out;
}

export function listDeadLetters(queue: WorkQueue, queues: string[], f: DeadLetterFilter = {}, max = 1000): Promise<DeadLetter[]> {
  return scan(queue, queues, f, max);
}

/** Sends matching messages back to their source queue; their nodes get a fresh attempt budget. */
export async function redriveDeadLetters(queue: WorkQueue, store: TaskStore | undefined, queues: string[], f: DeadLetterFilter, by: string, max = 1000): Promise<DeadLetter[]> {
  return scan(queue, queues, f, max, async (d) => {
    if (!d.source) throw new TaskermanError('NOT_ALLOWED', `dead letter ${d.id} does not say which queue it came from`, { retryable: false, hint: 'inspect it with `taskerman dlq show` and resend it by hand' });
    if (store && d.taskId && d.node) {
      const t = await store.getTask(d.taskId);
      if (t && (t.value.state === 'halted' || t.value.state === 'cancelled')) {
        throw new TaskermanError('NOT_ALLOWED', `task ${d.taskId} is ${t.value.state}: redriving ${d.node} would only skip it`, { retryable: false, hint: t.value.state === 'halted' ? `resume it first: taskerman resume ${d.taskId}` : 'run the task again instead' });
      }
      let deadSince: string | undefined;
      const requeued = await store.updateNode(d.taskId, d.node, (r) => {
        if (r.state !== 'DEAD') return undefined;
        deadSince = r.endedAt ?? r.updatedAt;
        return { ...r, state: 'QUEUED', reason: `redriven by ${by}`, error: undefined, endedAt: undefined, history: r.history.map((h) => ({ ...h, counted: false })) };
      });
      if (requeued?.state === 'QUEUED' && deadSince !== undefined) {
        const since = deadSince;
        await store.updateTask(d.taskId, (r) => {
          // A node that was already dead when the task was last resumed is in breakerBase: take it out
          // again, or the breaker would allow one failure more than max_failures from now on.
          const inBase = (r.breakerBase ?? 0) > 0 && r.resumedAt !== undefined && since <= r.resumedAt;
          if (r.state !== 'failed' && !inBase) return undefined;
          const next = { ...r };
          if (inBase) next.breakerBase = (r.breakerBase ?? 1) - 1;
          if (r.state === 'failed') Object.assign(next, { state: 'running', reason: `node ${d.node} redriven by ${by}`, endedAt: undefined });
          return next;
        });
      }
    }
    const attributes = Object.fromEntries(Object.entries({ 'taskerman.task_id': d.taskId, 'taskerman.node': d.node, 'taskerman.redriven_by': by }).filter((e): e is [string, string] => e[1] !== undefined));
    await queue.send(d.source, { body: d.body, attributes });
    await queue.delete(d.queue, d.receiptHandle);
    return true;
  });
}
