// Explicit dead-lettering: work that Taskerman gives up on goes to the dead-letter queue with the reason
// as message attributes, so `taskerman dlq` and humans can see why. (The queues' redrive policy stays as
// the backstop for a consumer that dies while holding a message.)
import type { WorkQueue } from './work-queue.js';

export const DLQ_ATTR = {
  reason: 'taskerman.reason',
  code: 'taskerman.error_code',
  source: 'taskerman.source_queue',
  taskId: 'taskerman.task_id',
  node: 'taskerman.node',
  attempts: 'taskerman.attempts',
  deadAt: 'taskerman.dead_at',
  truncated: 'taskerman.truncated',
} as const;

export interface DeadLetterInfo {
  reason: string;
  code: string;
  source: string;
  taskId?: string;
  node?: string;
  attempts?: number;
}

/** Keeps the message under SQS's 256 KiB with room for the attributes. */
const MAX_BODY_BYTES = 200 * 1024;
const MAX_ATTR = 1000;

export async function sendToDeadLetter(queue: WorkQueue, dlq: string, body: string, info: DeadLetterInfo): Promise<void> {
  let text = body;
  let truncated = false;
  if (Buffer.byteLength(text, 'utf8') > MAX_BODY_BYTES) {
    text = Buffer.from(text, 'utf8').subarray(0, MAX_BODY_BYTES).toString('utf8');
    truncated = true;
  }
  if (text.length === 0) text = '(empty body)';
  const attributes: Record<string, string> = {
    [DLQ_ATTR.reason]: info.reason.slice(0, MAX_ATTR) || '(no reason)',
    [DLQ_ATTR.code]: info.code,
    [DLQ_ATTR.source]: info.source,
    [DLQ_ATTR.deadAt]: new Date().toISOString(),
  };
  if (info.taskId) attributes[DLQ_ATTR.taskId] = info.taskId;
  if (info.node) attributes[DLQ_ATTR.node] = info.node;
  if (info.attempts !== undefined) attributes[DLQ_ATTR.attempts] = String(info.attempts);
  if (truncated) attributes[DLQ_ATTR.truncated] = 'true';
  await queue.send(dlq, { body: text, attributes });
}
