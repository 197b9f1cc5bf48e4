// The WorkQueue contract on SqsWorkQueue against the shared fauxqs server (through its own signed JSON-protocol
// transport, and through an injected AWS SDK client), plus the SQS-only parts: queue
// attributes as created, error translation (unreachable endpoint, SQS errors, deleted queues) and client
// ownership.
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import {
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SendMessageBatchCommand,
  SQSClient,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
} from '@aws-sdk/client-sqs';
import { BackendError, SqsError } from '../../core/errors.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { QueueDoesNotExistError, type QueueSpec } from '../../core/queue/work-queue.js';
import { workQueueContract } from '../contract/work-queue.contract.js';
import { freshQueuePrefix, testSqsEndpoint } from '../support/env.js';

// Static credentials keep the SDK away from its provider chain (and the instance metadata service).
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
const region = 'us-east-1';

const newQueue = (): SqsWorkQueue => new SqsWorkQueue({ endpoint: testSqsEndpoint(), region, credentials });

async function removeAll(queue: SqsWorkQueue, prefix: string): Promise<void> {
  for (const name of await queue.list(prefix)) await queue.deleteQueue(name);
}

/** A contract fixture on `queue` with a fresh prefix; cleanup removes its queues, closes it, then runs `after`. */
function fixture(queue: SqsWorkQueue, after: () => void = () => undefined) {
  const prefix = freshQueuePrefix();
  return {
    queue,
    prefix,
    cleanup: async () => {
      await removeAll(queue, prefix);
      await queue.close();
      after();
    },
  };
}

workQueueContract('SqsWorkQueue (fauxqs)', async () => fixture(newQueue()));

// The same contract through an injected AWS SDK client (SdkSqsTransport): both transports keep the port's promises.
workQueueContract('SqsWorkQueue over an injected AWS SDK client (fauxqs)', async () => {
  const sqs = new SQSClient({ endpoint: testSqsEndpoint(), region, credentials, useQueueUrlAsEndpoint: false });
  return fixture(new SqsWorkQueue({ sqs, endpoint: testSqsEndpoint(), region }), () => sqs.destroy());
});

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  return port;
}

describe('SqsWorkQueue', () => {
  let prefix: string;
  let spec: QueueSpec;
  let queue: SqsWorkQueue;

  beforeEach(() => {
    prefix = freshQueuePrefix();
    const n = queueNames(prefix);
    spec = { name: n.global, deadLetter: n.globalDlq, maxReceiveCount: 4, visibilityTimeoutSec: 45 };
    queue = newQueue();
  });

  afterEach(async () => {
    await removeAll(queue, prefix);
    await queue.close();
  });

  it('creates the queue with its visibility timeout and a redrive policy to the dead-letter queue', async () => {
    await queue.ensureQueue(spec);
    const raw = new SQSClient({ endpoint: testSqsEndpoint(), region, credentials });
    try {
      const urlOf = async (name: string) => (await raw.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
      const main = await raw.send(
        new GetQueueAttributesCommand({ QueueUrl: await urlOf(spec.name), AttributeNames: ['VisibilityTimeout', 'RedrivePolicy'] }),
      );
      const dlq = await raw.send(new GetQueueAttributesCommand({ QueueUrl: await urlOf(spec.deadLetter), AttributeNames: ['QueueArn'] }));
      assert.equal(main.Attributes?.VisibilityTimeout, '45');
      assert.deepEqual(JSON.parse(main.Attributes?.RedrivePolicy ?? '{}'), {
        deadLetterTargetArn: dlq.Attributes?.QueueArn,
        maxReceiveCount: 4,
      });
    } finally {
      raw.destroy();
    }
  });

  it('keeps an existing queue as it is when ensureQueue asks for other attributes', async () => {
    await queue.ensureQueue(spec);
    const other = newQueue();
    try {
      await other.ensureQueue({ ...spec, visibilityTimeoutSec: 90 });
      assert.equal(await other.exists(spec.name), true);
    } finally {
      await other.close();
    }
  });

  it('rejects with a BackendError naming the endpoint when nothing listens there', async () => {
    const endpoint = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const unreachable = new SqsWorkQueue({ endpoint, region, credentials, maxAttempts: 1, connectTimeoutMs: 1000 });
    try {
      await assert.rejects(unreachable.send('anything', { body: 'x' }), (err: unknown) => {
        assert.ok(err instanceof BackendError, `expected a BackendError, got ${String(err)}`);
        assert.equal(err.backend, 'sqs');
        assert.equal(err.code, 'BACKEND_UNAVAILABLE');
        assert.match(err.message, new RegExp(`cannot reach SQS at ${endpoint}: ECONNREFUSED`));
        assert.match(err.hint ?? '', /--sqs-endpoint/);
        return true;
      });
    } finally {
      await unreachable.close();
    }
  });

  it('wraps an SQS error as SqsError with the AWS code and the HTTP status', async () => {
    await queue.ensureQueue(spec);
    // SQS refuses bodies with characters outside the XML character set.
    await assert.rejects(queue.send(spec.name, { body: 'nul \u0000 byte' }), (err: unknown) => {
      assert.ok(err instanceof SqsError, `expected an SqsError, got ${String(err)}`);
      assert.equal(err.code, 'SQS_ERROR');
      assert.match(err.awsCode ?? '', /InvalidMessageContents$/);
      assert.equal(err.status, 400);
      assert.deepEqual(err.context, { operation: 'SendMessage', queue: spec.name });
      assert.ok(err.cause);
      return true;
    });
  });

  it('rejects a batch with an SqsError naming each entry SQS refused', async () => {
    await queue.ensureQueue(spec);
    const msgs = Array.from({ length: 12 }, (_, i) => ({ body: i === 11 ? 'bad \u0000' : `ok-${i}` }));
    await assert.rejects(queue.sendBatch(spec.name, msgs), (err: unknown) => {
      assert.ok(err instanceof SqsError);
      assert.match(err.message, /1 of 12 messages not sent: #11 /);
      return true;
    });
    assert.equal((await queue.stats(spec.name)).visible, 11);
  });

  it('forgets a cached queue URL when the queue is deleted behind it, and ensureQueue recreates the queue', async () => {
    await queue.ensureQueue(spec);
    await queue.send(spec.name, { body: 'cached url' });
    const other = newQueue();
    await other.deleteQueue(spec.name);
    await other.close();

    await assert.rejects(queue.send(spec.name, { body: 'x' }), QueueDoesNotExistError);
    await queue.ensureQueue(spec);
    await queue.send(spec.name, { body: 'after' });
    assert.equal((await queue.stats(spec.name)).visible, 1);
  });

  it('a send that starts while the queue URL is being looked up (a warm-up) joins that lookup', async () => {
    await queue.ensureQueue(spec);
    const sqs = new SQSClient({ endpoint: testSqsEndpoint(), region, credentials, useQueueUrlAsEndpoint: false });
    const lookups: string[] = [];
    const send = sqs.send.bind(sqs) as (cmd: unknown) => Promise<unknown>;
    (sqs as unknown as { send: (cmd: unknown) => Promise<unknown> }).send = (cmd: unknown) => {
      if (cmd instanceof GetQueueUrlCommand) lookups.push(cmd.input.QueueName ?? '');
      return send(cmd);
    };
    const missing = `${prefix}-never-created`;
    try {
      const q = new SqsWorkQueue({ sqs });
      const warm = q.exists(spec.name);
      await q.send(spec.name, { body: 'joined' });
      assert.equal(await warm, true);
      assert.deepEqual(lookups, [spec.name]);
      assert.equal((await queue.stats(spec.name)).visible, 1);
      // A queue that does not exist: the warm-up says so, and the send that joined it fails as a send does.
      const warmMissing = q.exists(missing);
      await assert.rejects(q.send(missing, { body: 'lost' }), QueueDoesNotExistError);
      assert.equal(await warmMissing, false);
      // The failed lookup is not kept: the next call asks SQS again.
      await assert.rejects(q.send(missing, { body: 'lost' }), QueueDoesNotExistError);
      assert.deepEqual(lookups, [spec.name, missing, missing]);
      await q.close();
    } finally {
      sqs.destroy();
    }
  });

  it('uses an injected client and leaves it open on close', async () => {
    const sqs = new SQSClient({ endpoint: testSqsEndpoint(), region, credentials, useQueueUrlAsEndpoint: false });
    try {
      const injected = new SqsWorkQueue({ sqs });
      await injected.ensureQueue(spec);
      await injected.close();
      const again = new SqsWorkQueue({ sqs });
      assert.equal(await again.exists(spec.name), true);
      await again.close();
    } finally {
      sqs.destroy();
    }
  });
});

/** Just enough of an SQSClient for sendBatch: answers each SendMessageBatch call with `answer`. */
function fakeSqs(answer: (entries: SendMessageBatchRequestEntry[], call: number) => Partial<SendMessageBatchCommandOutput>) {
  const batches: SendMessageBatchRequestEntry[][] = [];
  const client = {
    async send(cmd: unknown): Promise<unknown> {
      if (cmd instanceof GetQueueUrlCommand) return { QueueUrl: `http://fake/000000000000/${cmd.input.QueueName}` };
      if (cmd instanceof SendMessageBatchCommand) {
        const entries = cmd.input.Entries ?? [];
        batches.push(entries);
        return answer(entries, batches.length);
      }
      throw new Error('unexpected command');
    },
  };
  return { sqs: client as unknown as SQSClient, batches };
}

describe('SqsWorkQueue.sendBatch (injected client)', () => {
  const msgs = Array.from({ length: 23 }, (_, i) => ({ body: `m-${i}` }));

  it('sends chunks of at most 10 entries with ids unique per chunk', async () => {
    const { sqs, batches } = fakeSqs(() => ({ Successful: [], Failed: [] }));
    await new SqsWorkQueue({ sqs }).sendBatch('q', msgs);
    assert.deepEqual(batches.map((b) => b.length).sort((x, y) => y - x), [10, 10, 3]);
    for (const b of batches) assert.equal(new Set(b.map((e) => e.Id)).size, b.length);
    assert.deepEqual(batches.flat().map((e) => e.MessageBody).sort(), msgs.map((m) => m.body).sort());
  });

  it('retries entries that failed on the SQS side, and only those', async () => {
    const { sqs, batches } = fakeSqs((entries, call) => ({
      Failed: call === 1 ? [{ Id: entries[3]?.Id, SenderFault: false, Code: 'InternalError' }] : [],
    }));
    await new SqsWorkQueue({ sqs, batchConcurrency: 1 }).sendBatch('q', msgs);
    assert.equal(batches.length, 4);
    assert.deepEqual(batches[1]?.map((e) => e.MessageBody), ['m-3']);
  });

  it('rejects naming the entries that still fail, without retrying sender faults', async () => {
    const { sqs, batches } = fakeSqs((entries) => ({
      Failed: entries
        .filter((e) => e.MessageBody === 'm-4' || e.MessageBody === 'm-15')
        .map((e) => ({ Id: e.Id, SenderFault: e.MessageBody === 'm-4', Code: e.MessageBody === 'm-4' ? 'InvalidMessageContents' : 'InternalError' })),
    }));
    await assert.rejects(new SqsWorkQueue({ sqs, batchConcurrency: 1, batchRetries: 1 }).sendBatch('q', msgs), (err: unknown) => {
      assert.ok(err instanceof SqsError);
      assert.match(err.message, /2 of 23 messages not sent: #4 InvalidMessageContents: ; #15 InternalError: {2}\(after retries\)/);
      return true;
    });
    // 3 chunks, and one retry of m-15 alone.
    assert.equal(batches.length, 4);
    assert.equal(batches.filter((b) => b.length === 1 && b[0]?.MessageBody === 'm-15').length, 1);
  });
});
