// The SQS adapter of the WorkQueue port. Owns: its transport (its own signed JSON-protocol client, built here
// and closed on close, or an injected AWS SDK client: sqs-transport.ts), the queue name → URL cache, queue
// creation with a redrive policy, batching, and the translation of every failure into QueueDoesNotExistError,
// BackendError (unreachable) or SqsError.
import type { BatchResultErrorEntry, MessageAttributeValue, SendMessageBatchRequestEntry } from '@aws-sdk/client-sqs';
import { asErrorLike, unreachableReason } from '../aws.js';
import { AbortedError, BackendError, SqsError } from '../errors.js';
import { SqsHttpTransport } from './sqs-http-transport.js';
import { SdkSqsTransport, type SqsInput, type SqsOperation, type SqsOutput, type SqsTransport } from './sqs-transport.js';
import {
  compileSqsWorkQueueOptions,
  type CompiledSqsWorkQueueOptions,
  type SqsWorkQueueOptions,
} from './sqs-work-queue-options.js';
import {
  QueueDoesNotExistError,
  type OutgoingMessage,
  type QueueMessage,
  type QueueSpec,
  type QueueStats,
  type ReceiveOptions,
  type WorkQueue,
} from './work-queue.js';

export type { SqsWorkQueueOptions } from './sqs-work-queue-options.js';

const MAX_BATCH_ENTRIES = 10;
/** The historical SQS payload limit; real SQS now takes 1 MiB, but staying under 256 KiB fits every backend. */
const MAX_BATCH_BYTES = 262_144;

const QUEUE_MISSING = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue']);
const QUEUE_EXISTS = new Set(['QueueNameExists', 'QueueAlreadyExists', 'AWS.SimpleQueueService.QueueNameExists']);
export { unreachableReason };

export function isQueueMissing(err: unknown): boolean {
  const e = asErrorLike(err);
  return QUEUE_MISSING.has(String(e.name)) || QUEUE_MISSING.has(String(e.Code));
}

function isQueueExists(err: unknown): boolean {
  const e = asErrorLike(err);
  return QUEUE_EXISTS.has(String(e.name)) || QUEUE_EXISTS.has(String(e.Code));
}

function isAbort(err: unknown): boolean {
  return asErrorLike(err).name === 'AbortError';
}

function attributeBytes(attrs: Record<string, string> | undefined): number {
  let n = 0;
  for (const [k, v] of Object.entries(attrs ?? {})) n += Buffer.byteLength(k) + Buffer.byteLength(v) + 6; // + "String"
  return n;
}

function toMessageAttributes(attrs: Record<string, string> | undefined): Record<string, MessageAttributeValue> | undefined {
  if (!attrs) return undefined;
  const out: Record<string, MessageAttributeValue> = {};
  for (const [k, v] of Object.entries(attrs)) out[k] = { DataType: 'String', StringValue: v };
  return Object.keys(out).length > 0 ? out : undefined;
}

function fromMessageAttributes(attrs: Record<string, MessageAttributeValue> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs ?? {})) {
    // Binary attributes are never sent by Taskerman; drop them rather than guess an encoding.
    if (v.StringValue !== undefined) out[k] = v.StringValue;
  }
  return out;
}

/** Runs `fn` over `items` with at most `limit` calls in flight; settles every item. */
async function settleAll<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array<PromiseSettledResult<R>>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await fn(items[i] as T) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

interface BatchEntry {
  /** Index in the caller's array: the entry id, and how a failure is reported. */
  index: number;
  msg: OutgoingMessage;
}

interface EntryFailure {
  index: number;
  code: string;
  message: string;
  senderFault: boolean;
}

export class SqsWorkQueue implements WorkQueue {
  private readonly opts: CompiledSqsWorkQueueOptions;
  private readonly transport: SqsTransport;
  private readonly urls = new Map<string, string>();
  /** GetQueueUrl calls in flight, by queue: a call that needs the URL meanwhile (a send after a warm-up) joins it. */
  private readonly resolving = new Map<string, Promise<string>>();
  /** Queues ensured by this instance, keyed by name, with the spec they were ensured with. */
  private readonly ensured = new Map<string, string>();
  private closed = false;

  private readonly dlqArns = new Map<string, Promise<string>>();

  constructor(options: SqsWorkQueueOptions = {}) {
    this.opts = compileSqsWorkQueueOptions(options);
    // Every request goes to the endpoint when one is set, never to the host of a queue URL: emulators answer
    // with queue URLs on hosts that need not resolve (fauxqs: http://sqs.<region>.localhost:<port>/...).
    // (An injected SDK client is built by its owner with `useQueueUrlAsEndpoint: false` for the same reason.)
    this.transport = this.opts.sqs
      ? new SdkSqsTransport(this.opts.sqs, this.opts.endpoint ?? `region ${this.opts.region}`)
      : new SqsHttpTransport({
          region: this.opts.region,
          endpoint: this.opts.endpoint,
          credentials: this.opts.credentials,
          maxAttempts: this.opts.maxAttempts,
          connectTimeoutMs: this.opts.connectTimeoutMs,
          requestTimeoutMs: this.opts.requestTimeoutMs,
        });
  }

  async ensureQueue(spec: QueueSpec): Promise<void> {
    this.assertOpen();
    const key = JSON.stringify([spec.deadLetter, spec.maxReceiveCount, spec.visibilityTimeoutSec]);
    if (this.ensured.get(spec.name) === key) return;

    const arn = await this.deadLetterArn(spec.deadLetter);
    await this.createQueue(spec.name, {
      VisibilityTimeout: String(spec.visibilityTimeoutSec),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: spec.maxReceiveCount }),
    });
    this.ensured.set(spec.name, key);
  }

  /**
   * Creates a dead-letter queue once per client and remembers its ARN: a cluster's node queues all share
   * one dead-letter queue, and a fan-out to hundreds of nodes must not create it hundreds of times.
   */
  private deadLetterArn(name: string): Promise<string> {
    let p = this.dlqArns.get(name);
    if (!p) {
      p = (async () => {
        const dlqUrl = await this.createQueue(name, undefined);
        const attrs = await this.call('GetQueueAttributes', name, { QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] });
        const arn = attrs.Attributes?.QueueArn;
        if (!arn) throw new SqsError('GetQueueAttributes', name, new Error('the response carries no QueueArn'));
        return arn;
      })();
      this.dlqArns.set(name, p);
      p.catch(() => this.dlqArns.delete(name));
    }
    return p;
  }

  async exists(name: string): Promise<boolean> {
    this.assertOpen();
    // Always asks SQS: a cached URL would still answer true after the queue was deleted elsewhere.
    this.urls.delete(name);
    try {
      await this.url(name);
      return true;
    } catch (err) {
      if (err instanceof QueueDoesNotExistError) return false;
      throw err;
    }
  }

  async send(queue: string, msg: OutgoingMessage): Promise<void> {
    await this.withUrl('SendMessage', queue, (QueueUrl) => ({
      QueueUrl,
      MessageBody: msg.body,
      MessageAttributes: toMessageAttributes(msg.attributes),
      DelaySeconds: msg.delaySec,
    }));
  }

  /**
   * Sends in SendMessageBatch calls of at most 10 entries (and 256 KiB). Entries that SQS failed through no
   * fault of ours are retried; when any entry still fails the call rejects with an SqsError naming each one
   * by its index in `msgs`. The other entries have been sent by then: callers must tolerate the duplicates a
   * retry of the whole batch creates (delivery is at least once anyway).
   */
  async sendBatch(queue: string, msgs: OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    if (msgs.length === 0) return;
    const url = await this.url(queue);
    const chunks = this.chunk(msgs.map((msg, index) => ({ index, msg })));
    const results = await settleAll(chunks, this.opts.batchConcurrency, (c) => this.sendChunk(queue, url, c));

    const failures: EntryFailure[] = [];
    for (const r of results) {
      if (r.status === 'rejected') throw r.reason;
      failures.push(...r.value);
    }
    if (failures.length > 0) {
      failures.sort((a, b) => a.index - b.index);
      const list = failures
        .map((f) => `#${f.index} ${f.code}: ${f.message}${f.senderFault ? '' : ' (after retries)'}`)
        .join('; ');
      const cause = Object.assign(new Error(`${failures.length} of ${msgs.length} messages not sent: ${list}`), {
        name: failures[0]?.code ?? 'BatchEntryFailed',
        failures,
      });
      throw new SqsError('SendMessageBatch', queue, cause);
    }
  }

  async receive(queue: string, opts: ReceiveOptions): Promise<QueueMessage[]> {
    this.assertOpen();
    const { signal } = opts;
    if (signal?.aborted) return [];
    try {
      const out = await this.withUrl(
        'ReceiveMessage',
        queue,
        (QueueUrl) => ({
          QueueUrl,
          MaxNumberOfMessages: opts.max,
          WaitTimeSeconds: opts.waitSec,
          VisibilityTimeout: opts.visibilitySec,
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          MessageAttributeNames: ['All'],
        }),
        signal,
      );
      return (out.Messages ?? []).map((m) => ({
        id: m.MessageId ?? '',
        body: m.Body ?? '',
        receiptHandle: m.ReceiptHandle ?? '',
        receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? '1'),
        attributes: fromMessageAttributes(m.MessageAttributes),
      }));
    } catch (err) {
      // An aborted long poll may still have taken messages on the server: they become visible again after
      // `visibilitySec`, which at-least-once delivery already allows for.
      if (signal?.aborted) return [];
      throw err;
    }
  }

  /** A stale receipt handle is accepted without effect, the way SQS answers it (see the port's contract). */
  async delete(queue: string, receiptHandle: string): Promise<void> {
    await this.withUrl('DeleteMessage', queue, (QueueUrl) => ({ QueueUrl, ReceiptHandle: receiptHandle }));
  }

  /** Rejects with an SqsError (MessageNotInflight, ReceiptHandleIsInvalid) when the delivery is not in flight. */
  async changeVisibility(queue: string, receiptHandle: string, seconds: number): Promise<void> {
    await this.withUrl('ChangeMessageVisibility', queue, (QueueUrl) => ({ QueueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
  }

  async stats(queue: string): Promise<QueueStats> {
    const out = await this.withUrl('GetQueueAttributes', queue, (QueueUrl) => ({
      QueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
    }));
    const a = out.Attributes ?? {};
    return {
      visible: Number(a.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
      delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
    };
  }

  async list(prefix: string): Promise<string[]> {
    this.assertOpen();
    const names: string[] = [];
    let NextToken: string | undefined;
    do {
      // SQS only paginates (returns NextToken) when MaxResults is given.
      const out = await this.call('ListQueues', `prefix ${prefix}`, { QueueNamePrefix: prefix, MaxResults: 1000, NextToken });
      for (const url of out.QueueUrls ?? []) {
        const name = url.slice(url.lastIndexOf('/') + 1);
        if (name.startsWith(prefix)) names.push(name);
      }
      NextToken = out.NextToken;
    } while (NextToken);
    return [...new Set(names)].sort();
  }

  async purge(queue: string): Promise<void> {
    await this.withUrl('PurgeQueue', queue, (QueueUrl) => ({ QueueUrl }));
  }

  /** Not part of the port: removes a queue (test cleanup, teardown tooling). A missing queue is not an error. */
  async deleteQueue(queue: string): Promise<void> {
    try {
      await this.withUrl('DeleteQueue', queue, (QueueUrl) => ({ QueueUrl }));
    } catch (err) {
      if (!(err instanceof QueueDoesNotExistError)) throw err;
    }
    this.forget(queue);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.urls.clear();
    this.ensured.clear();
    this.transport.destroy();
  }

  private assertOpen(): void {
    if (this.closed) throw new AbortedError('the SQS work queue is closed', { retryable: false });
  }

  private forget(queue: string): void {
    this.dlqArns.delete(queue);
    this.urls.delete(queue);
    this.ensured.delete(queue);
  }

  /** CreateQueue; a queue that exists with other attributes is kept as it is (terraform owns them in production). */
  private async createQueue(name: string, Attributes: Record<string, string> | undefined): Promise<string> {
    let url: string | undefined;
    try {
      const out = await this.call('CreateQueue', name, { QueueName: name, Attributes });
      url = out.QueueUrl;
    } catch (err) {
      if (!(err instanceof SqsError && isQueueExists(err.cause))) throw err;
    }
    if (!url) return this.url(name);
    this.urls.set(name, url);
    return url;
  }

  private async url(queue: string): Promise<string> {
    const cached = this.urls.get(queue);
    if (cached) return cached;
    let p = this.resolving.get(queue);
    if (!p) {
      p = this.lookUpUrl(queue).finally(() => this.resolving.delete(queue));
      this.resolving.set(queue, p);
    }
    return p;
  }

  private async lookUpUrl(queue: string): Promise<string> {
    const out = await this.call('GetQueueUrl', queue, { QueueName: queue });
    if (!out.QueueUrl) throw new SqsError('GetQueueUrl', queue, new Error('the response carries no QueueUrl'));
    this.urls.set(queue, out.QueueUrl);
    return out.QueueUrl;
  }

  /** Resolves the queue URL and calls with the input built on it; `translate` forgets the URL when the queue turns out to be gone. */
  private async withUrl<K extends SqsOperation>(operation: K, queue: string, input: (queueUrl: string) => SqsInput<K>, signal?: AbortSignal): Promise<SqsOutput<K>> {
    this.assertOpen();
    const url = await this.url(queue);
    return this.call(operation, queue, input(url), signal);
  }

  /** One SQS call; every failure comes out translated (queue gone, unreachable, or the service's error). */
  private async call<K extends SqsOperation>(operation: K, queue: string, input: SqsInput<K>, signal?: AbortSignal): Promise<SqsOutput<K>> {
    try {
      return await this.transport.call(operation, input, signal);
    } catch (err) {
      throw await this.translate(operation, queue, err);
    }
  }

  private async translate(operation: string, queue: string, err: unknown): Promise<Error> {
    if (isAbort(err)) return err as Error;
    if (isQueueMissing(err)) {
      // Deleted since we resolved it: a later ensureQueue must create it again.
      this.forget(queue);
      return new QueueDoesNotExistError(queue);
    }
    const reason = unreachableReason(err);
    if (reason !== undefined) {
      return new BackendError('sqs', `cannot reach SQS at ${await this.transport.target()}: ${reason}`, {
        cause: err,
        hint: 'check --sqs-endpoint / AWS_ENDPOINT_URL_SQS and --region',
        context: { operation, queue },
      });
    }
    return new SqsError(operation, queue, err);
  }

  private chunk(entries: BatchEntry[]): BatchEntry[][] {
    const chunks: BatchEntry[][] = [];
    let current: BatchEntry[] = [];
    let bytes = 0;
    for (const e of entries) {
      const size = Buffer.byteLength(e.msg.body) + attributeBytes(e.msg.attributes);
      if (current.length > 0 && (current.length === MAX_BATCH_ENTRIES || bytes + size > MAX_BATCH_BYTES)) {
        chunks.push(current);
        current = [];
        bytes = 0;
      }
      current.push(e);
      bytes += size;
    }
    if (current.length > 0) chunks.push(current);
    return chunks;
  }

  /** One SendMessageBatch call, plus retries of the entries SQS failed on its side; returns what still failed. */
  private async sendChunk(queue: string, QueueUrl: string, entries: BatchEntry[]): Promise<EntryFailure[]> {
    const failures: EntryFailure[] = [];
    let pending = entries;
    for (let attempt = 0; ; attempt++) {
      const Entries: SendMessageBatchRequestEntry[] = pending.map(({ index, msg }) => ({
        Id: `m${index}`,
        MessageBody: msg.body,
        MessageAttributes: toMessageAttributes(msg.attributes),
        DelaySeconds: msg.delaySec,
      }));
      const out = await this.call('SendMessageBatch', queue, { QueueUrl, Entries });
      const failed: BatchResultErrorEntry[] = out.Failed ?? [];
      const byId = new Map(pending.map((e) => [`m${e.index}`, e]));
      const retryable: EntryFailure[] = [];
      for (const f of failed) {
        const failure = {
          index: byId.get(f.Id ?? '')?.index ?? -1,
          code: f.Code ?? 'Unknown',
          message: f.Message ?? '',
          senderFault: f.SenderFault ?? true,
        };
        // Entries that can never succeed (bad body, too large) are reported without another try.
        (failure.senderFault ? failures : retryable).push(failure);
      }
      if (retryable.length === 0) return failures;
      if (attempt >= this.opts.batchRetries) return [...failures, ...retryable];
      pending = pending.filter((e) => retryable.some((f) => f.index === e.index));
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
}
