// The behaviour every WorkQueue adapter must have, as one mocha suite that each adapter's test file runs
// with its own factory. Every test gets a fresh fixture (a fresh queue prefix) and names its queues with
// `queueNames(prefix)`, so tests never share queues. Waits are long polls bounded by mocha's timeout; no test
// asserts on elapsed wall time.
import assert from 'node:assert/strict';
import { queueNames, type QueueNames } from '../../core/queue/queue-names.js';
import {
  QueueDoesNotExistError,
  type QueueMessage,
  type QueueSpec,
  type ReceiveOptions,
  type WorkQueue,
} from '../../core/queue/work-queue.js';

export interface WorkQueueFixture {
  queue: WorkQueue;
  /** A fresh queue prefix (`freshQueuePrefix()`); the suite also uses `${prefix}a` and `${prefix}b`. */
  prefix: string;
  /** Removes every queue whose name starts with `prefix` and closes `queue`. */
  cleanup(): Promise<void>;
}

const CLUSTER = 'cassandra:geo_counter';
const LONG: ReceiveOptions = { max: 10, waitSec: 5, visibilitySec: 30 };
const NOW: ReceiveOptions = { max: 10, waitSec: 0, visibilitySec: 30 };

const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function one(msgs: QueueMessage[]): QueueMessage {
  assert.equal(msgs.length, 1, `expected one message, got ${msgs.length}`);
  return msgs[0] as QueueMessage;
}

export function workQueueContract(name: string, factory: () => Promise<WorkQueueFixture>): void {
  describe(`WorkQueue contract: ${name}`, function () {
    this.timeout(20_000);

    let fixture: WorkQueueFixture | undefined;
    let q: WorkQueue;
    let names: QueueNames;

    beforeEach(async () => {
      fixture = await factory();
      q = fixture.queue;
      names = queueNames(fixture.prefix);
    });

    afterEach(async () => {
      await fixture?.cleanup();
      fixture = undefined;
    });

    const specFor = (n: QueueNames, overrides: Partial<QueueSpec> = {}): QueueSpec => ({
      name: n.cluster(CLUSTER),
      deadLetter: n.clusterDlq(CLUSTER),
      maxReceiveCount: 5,
      visibilityTimeoutSec: 30,
      ...overrides,
    });

    async function ready(overrides: Partial<QueueSpec> = {}): Promise<QueueSpec> {
      const spec = specFor(names, overrides);
      await q.ensureQueue(spec);
      return spec;
    }

    /** Long-polls until `count` messages arrived (or the polls run out), then returns them all. */
    async function receiveAll(queue: string, count: number, visibilitySec = 60): Promise<QueueMessage[]> {
      const got: QueueMessage[] = [];
      for (let polls = 0; got.length < count && polls < 20; polls++) {
        got.push(...(await q.receive(queue, { max: 10, waitSec: 1, visibilitySec })));
      }
      return got;
    }

    it('ensureQueue creates the queue and its dead-letter queue, and is idempotent', async () => {
      const spec = specFor(names);
      assert.equal(await q.exists(spec.name), false);
      assert.equal(await q.exists(spec.deadLetter), false);

      await q.ensureQueue(spec);
      await q.ensureQueue(spec);
      assert.equal(await q.exists(spec.name), true);
      assert.equal(await q.exists(spec.deadLetter), true);

      // A node queue shares its cluster's dead-letter queue.
      const node = { ...spec, name: names.node(CLUSTER, 'node-a') };
      await q.ensureQueue(node);
      assert.deepEqual(await q.list(names.prefix), [spec.name, spec.deadLetter, node.name].sort());
    });

    it('send, receive and delete round-trip the body and the attributes', async () => {
      const spec = await ready();
      const body = JSON.stringify({ task_id: 't-1', node: 'node-a' });
      await q.send(spec.name, { body, attributes: { task_id: 't-1', node: 'node-a' } });
      await q.send(spec.name, { body: 'plain' });

      const got = await receiveAll(spec.name, 2);
      assert.equal(got.length, 2);
      const withAttrs = got.find((m) => m.body === body);
      const plain = got.find((m) => m.body === 'plain');
      assert.ok(withAttrs && plain);
      assert.deepEqual(withAttrs.attributes, { task_id: 't-1', node: 'node-a' });
      assert.deepEqual(plain.attributes, {});
      for (const m of got) {
        assert.equal(m.receiveCount, 1);
        assert.ok(m.id.length > 0 && m.receiptHandle.length > 0);
      }
      assert.notEqual(withAttrs.id, plain.id);

      for (const m of got) await q.delete(spec.name, m.receiptHandle);
      assert.deepEqual(await q.stats(spec.name), { visible: 0, inFlight: 0, delayed: 0 });
      assert.deepEqual(await q.receive(spec.name, NOW), []);
    });

    it('redelivers a message after its visibility timeout, with receiveCount + 1 and a new receipt handle', async () => {
      const spec = await ready();
      await q.send(spec.name, { body: 'again' });
      const first = one(await q.receive(spec.name, { ...LONG, visibilitySec: 1 }));
      assert.equal(first.receiveCount, 1);

      const second = one(await q.receive(spec.name, { ...LONG, waitSec: 10 }));
      assert.equal(second.id, first.id);
      assert.equal(second.receiveCount, 2);
      assert.notEqual(second.receiptHandle, first.receiptHandle);

      // The first delivery is over: extending it fails, deleting with its handle is accepted (as SQS does).
      await assert.rejects(q.changeVisibility(spec.name, first.receiptHandle, 30));
      await q.delete(spec.name, first.receiptHandle);

      await q.delete(spec.name, second.receiptHandle);
      assert.deepEqual(await q.stats(spec.name), { visible: 0, inFlight: 0, delayed: 0 });
    });

    it('changeVisibility(0) makes a message visible again at once; a longer one keeps it in flight', async () => {
      const spec = await ready();
      await q.send(spec.name, { body: 'release me' });
      const first = one(await q.receive(spec.name, LONG));
      await q.changeVisibility(spec.name, first.receiptHandle, 0);

      const second = one(await q.receive(spec.name, NOW));
      assert.equal(second.id, first.id);
      assert.equal(second.receiveCount, 2);

      await q.changeVisibility(spec.name, second.receiptHandle, 60);
      assert.deepEqual(await q.stats(spec.name), { visible: 0, inFlight: 1, delayed: 0 });
      assert.deepEqual(await q.receive(spec.name, NOW), []);
    });

    it('moves a message to the dead-letter queue instead of receiving it more than maxReceiveCount times', async () => {
      const spec = await ready({ maxReceiveCount: 2 });
      await q.send(spec.name, { body: 'poison', attributes: { task_id: 't-9' } });

      let id: string | undefined;
      for (let receive = 1; receive <= 2; receive++) {
        const m = one(await q.receive(spec.name, NOW));
        assert.equal(m.receiveCount, receive);
        id ??= m.id;
        await q.changeVisibility(spec.name, m.receiptHandle, 0);
      }
      assert.deepEqual(await q.receive(spec.name, NOW), []);
      assert.deepEqual(await q.stats(spec.name), { visible: 0, inFlight: 0, delayed: 0 });

      const dead = one(await q.receive(spec.deadLetter, LONG));
      assert.equal(dead.id, id);
      assert.equal(dead.body, 'poison');
      assert.deepEqual(dead.attributes, { task_id: 't-9' });
    });

    it('sendBatch delivers 25 messages, each exactly once', async () => {
      const spec = await ready();
      const bodies = Array.from({ length: 25 }, (_, i) => `item-${i}`);
      await q.sendBatch(spec.name, bodies.map((body, i) => ({ body, attributes: { i: String(i) } })));
      await q.sendBatch(spec.name, []);

      const got = await receiveAll(spec.name, 25);
      assert.deepEqual(got.map((m) => m.body).sort(), [...bodies].sort());
      assert.equal(new Set(got.map((m) => m.id)).size, 25);
      for (const m of got) assert.equal(m.body, `item-${m.attributes.i}`);

      assert.deepEqual(await q.receive(spec.name, { max: 10, waitSec: 1, visibilitySec: 60 }), []);
      assert.deepEqual(await q.stats(spec.name), { visible: 0, inFlight: 25, delayed: 0 });
    });

    it('a long poll on an empty queue resolves with no messages when its wait ends', async () => {
      const spec = await ready();
      assert.deepEqual(await q.receive(spec.name, { max: 10, waitSec: 1, visibilitySec: 30 }), []);
    });

    it('a long poll returns as soon as a message is sent', async function () {
      this.timeout(10_000); // well under the 20 s wait: only an early return passes
      const spec = await ready();
      const polling = q.receive(spec.name, { max: 10, waitSec: 20, visibilitySec: 30 });
      await tick(100);
      await q.send(spec.name, { body: 'wake up' });
      assert.equal(one(await polling).body, 'wake up');
    });

    it('an aborted long poll resolves early with no messages', async function () {
      this.timeout(10_000); // well under the 20 s wait: only an early return passes
      const spec = await ready();
      const ac = new AbortController();
      const polling = q.receive(spec.name, { max: 10, waitSec: 20, visibilitySec: 30, signal: ac.signal });
      await tick(100);
      ac.abort();
      assert.deepEqual(await polling, []);

      assert.deepEqual(await q.receive(spec.name, { max: 10, waitSec: 20, visibilitySec: 30, signal: ac.signal }), []);
    });

    it('delaySec hides a message until the delay has passed', async () => {
      const spec = await ready();
      await q.send(spec.name, { body: 'later', delaySec: 1 });
      assert.deepEqual(await q.receive(spec.name, NOW), []);
      assert.equal((await q.stats(spec.name)).delayed, 1);
      assert.equal(one(await q.receive(spec.name, { ...LONG, waitSec: 10 })).body, 'later');
    });

    it('stats counts visible, in-flight and delayed messages', async () => {
      const spec = await ready();
      assert.deepEqual(await q.stats(spec.name), { visible: 0, inFlight: 0, delayed: 0 });
      await q.sendBatch(spec.name, [{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
      one(await q.receive(spec.name, { max: 1, waitSec: 5, visibilitySec: 60 }));
      await q.send(spec.name, { body: 'd', delaySec: 60 });
      assert.deepEqual(await q.stats(spec.name), { visible: 2, inFlight: 1, delayed: 1 });
    });

    it('list(prefix) finds exactly the queues whose names start with the prefix', async () => {
      const a = queueNames(`${names.prefix}a`);
      const b = queueNames(`${names.prefix}b`);
      const specA = specFor(a);
      const specB = specFor(b);
      await q.ensureQueue(specA);
      await q.ensureQueue(specB);
      await q.ensureQueue({ ...specA, name: a.node(CLUSTER, 'node-a') });

      assert.deepEqual(await q.list(a.prefix), [specA.name, specA.deadLetter, a.node(CLUSTER, 'node-a')].sort());
      assert.deepEqual(await q.list(b.prefix), [specB.name, specB.deadLetter].sort());
      assert.deepEqual(await q.list(`${names.prefix}z`), []);
    });

    it('rejects with QueueDoesNotExistError on a queue that does not exist', async () => {
      const missing = names.cluster('missing');
      const isMissing = (err: unknown): boolean => err instanceof QueueDoesNotExistError && err.queue === missing;
      assert.equal(await q.exists(missing), false);
      await assert.rejects(q.send(missing, { body: 'x' }), isMissing);
      await assert.rejects(q.sendBatch(missing, [{ body: 'x' }]), isMissing);
      await assert.rejects(q.receive(missing, NOW), isMissing);
      await assert.rejects(q.delete(missing, 'handle'), isMissing);
      await assert.rejects(q.changeVisibility(missing, 'handle', 0), isMissing);
      await assert.rejects(q.stats(missing), isMissing);
      await assert.rejects(q.purge(missing), isMissing);
    });

    it('purge drops visible, in-flight and delayed messages', async () => {
      const spec = await ready();
      await q.sendBatch(spec.name, [{ body: 'a' }, { body: 'b' }, { body: 'c', delaySec: 60 }]);
      one(await q.receive(spec.name, { max: 1, waitSec: 5, visibilitySec: 60 }));
      await q.purge(spec.name);
      assert.deepEqual(await q.stats(spec.name), { visible: 0, inFlight: 0, delayed: 0 });
      assert.deepEqual(await q.receive(spec.name, NOW), []);
    });
  });
}
