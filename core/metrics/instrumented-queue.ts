// A WorkQueue that counts its calls and their failures (taskerman_sqs_requests_total,
// taskerman_sqs_errors_total) around any adapter, so no loop has to. The AWS error code comes from the
// adapter's SqsError (its `awsCode`), else the error's code or name.
import { SqsError } from '../errors.js';
import type { TaskermanMetrics } from './metrics.js';
import type { WorkQueue } from '../queue/work-queue.js';

function codeOf(err: unknown): string {
  if (err instanceof SqsError) return err.awsCode ?? 'unknown';
  const e = err as { code?: unknown; name?: unknown } | undefined;
  if (typeof e?.code === 'string') return e.code;
  if (typeof e?.name === 'string') return e.name;
  return 'unknown';
}

const OPERATIONS: Record<string, string> = {
  ensureQueue: 'CreateQueue',
  exists: 'GetQueueUrl',
  send: 'SendMessage',
  sendBatch: 'SendMessageBatch',
  receive: 'ReceiveMessage',
  delete: 'DeleteMessage',
  changeVisibility: 'ChangeMessageVisibility',
  stats: 'GetQueueAttributes',
  list: 'ListQueues',
  purge: 'PurgeQueue',
};

export function instrumentQueue(queue: WorkQueue, metrics: TaskermanMetrics): WorkQueue {
  const wrap = <A extends unknown[], R>(name: string, fn: (...a: A) => Promise<R>) => {
    const operation = OPERATIONS[name] ?? name;
    return async (...a: A): Promise<R> => {
      metrics.sqsRequests.inc({ operation });
      try {
        return await fn(...a);
      } catch (err) {
        metrics.sqsErrors.inc({ operation, code: codeOf(err) });
        throw err;
      }
    };
  };
  return {
    ensureQueue: wrap('ensureQueue', (s) => queue.ensureQueue(s)),
    exists: wrap('exists', (n) => queue.exists(n)),
    send: wrap('send', (q, m) => queue.send(q, m)),
    sendBatch: wrap('sendBatch', (q, m) => queue.sendBatch(q, m)),
    receive: wrap('receive', (q, o) => queue.receive(q, o)),
    delete: wrap('delete', (q, r) => queue.delete(q, r)),
    changeVisibility: wrap('changeVisibility', (q, r, s) => queue.changeVisibility(q, r, s)),
    stats: wrap('stats', (q) => queue.stats(q)),
    list: wrap('list', (p) => queue.list(p)),
    purge: wrap('purge', (q) => queue.purge(q)),
    close: () => queue.close(),
  };
}
