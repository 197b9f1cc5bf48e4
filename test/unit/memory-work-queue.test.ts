// The WorkQueue contract on the in-memory adapter, plus what only it has: a store shared by several
// clients, close(), the way it answers stale receipt handles, and an injected clock (no sleeping).
import assert from 'node:assert/strict';
import type { Clock } from '../../core/clock.js';
import { AbortedError, NotFoundError, OptionError } from '../../core/errors.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { queueNames } from '../../core/queue/queue-names.js';
import type { QueueMessage, QueueSpec } from '../../core/queue/work-queue.js';
import { workQueueContract } from '../contract/work-queue.contract.js';
import { freshQueuePrefix } from '../support/env.js';

workQueueContract('MemoryWorkQueue', async () => {
  const queue = new MemoryWorkQueue();
  const prefix = freshQueuePrefix();
  return {
    queue,
    prefix,
    cleanup: async () => {
      for (const name of await queue.list(prefix)) await queue.deleteQueue(name);
      await queue.close();
    },
  };
});

/** A clock that moves only when told to; `pending` counts the sleeps still armed. */
class ManualClock implements Clock {
  private t = 1_000_000;
  private sleeps: { at: number; resolve: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const entry = {
        at: this.t + ms,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.sleeps = this.sleeps.filter((s) => s !== entry);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleeps.push(entry);
    });
  }

  get pending(): number {
    return this.sleeps.length;
  }

  /** Moves time forward, firing due sleeps in time order and letting their callbacks run. */
  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    for (;;) {
      const due = this.sleeps.filter((s) => s.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.sleeps = this.sleeps.filter((s) => s !== due);
      this.t = Math.max(this.t, due.at);
      due.resolve();
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.t = until;
  }
}

function one(msgs: QueueMessage[]): QueueMessage {
  assert.equal(msgs.length, 1, `expected one message, got ${msgs.length}`);
  return msgs[0] as QueueMessage;
}

describe('MemoryWorkQueue', () => {
  let spec: QueueSpec;

  beforeEach(() => {
    const n = queueNames(freshQueuePrefix());
    spec = { name: n.cluster('kafka:events'), deadLetter: n.clusterDlq('kafka:events'), maxReceiveCount: 3, visibilityTimeoutSec: 30 };
  });

  it('clients sharing a store see the same queues, and a send by one wakes a long poll by another', async () => {
    const store = new MemoryQueueStore();
    const producer = new MemoryWorkQueue({ store });
    const consumer = new MemoryWorkQueue({ store });
    await producer.ensureQueue(spec);
    assert.equal(await consumer.exists(spec.name), true);

    const polling = consumer.receive(spec.name, { max: 10, waitSec: 20, visibilitySec: 30 });
    await producer.send(spec.name, { body: 'hello' });
    const m = one(await polling);
    assert.equal(m.body, 'hello');
    await producer.delete(spec.name, m.receiptHandle);
    assert.deepEqual(await consumer.stats(spec.name), { visible: 0, inFlight: 0, delayed: 0 });
    await Promise.all([producer.close(), consumer.close()]);
  });

  it('close() ends its own long polls with no messages, leaves other clients alone, and refuses further calls', async () => {
    const clock = new ManualClock();
    const store = new MemoryQueueStore({ clock });
    const a = new MemoryWorkQueue({ store });
    const b = new MemoryWorkQueue({ store });
    await a.ensureQueue(spec);
    const pollA = a.receive(spec.name, { max: 1, waitSec: 20, visibilitySec: 30 });
    const pollB = b.receive(spec.name, { max: 1, waitSec: 20, visibilitySec: 30 });

    await a.close();
    assert.deepEqual(await pollA, []);
    await assert.rejects(a.send(spec.name, { body: 'x' }), AbortedError);

    await b.send(spec.name, { body: 'for b' });
    assert.equal(one(await pollB).body, 'for b');
    assert.equal(clock.pending, 0, 'no timer is left armed once nobody waits');
    await b.close();
  });

  it('keeps its deadlines on the monotonic clock: a wall clock stepped back does not hold a message invisible', async () => {
    const queue = new MemoryWorkQueue();
    await queue.ensureQueue(spec);
    await queue.send(spec.name, { body: 'soon again' });
    const first = one(await queue.receive(spec.name, { max: 1, waitSec: 0, visibilitySec: 1 }));
    const realNow = Date.now;
    // NTP (or the VM's host) sets the wall clock a minute back while the message is in flight.
    Date.now = () => realNow() - 60_000;
    try {
      const again = one(await queue.receive(spec.name, { max: 1, waitSec: 5, visibilitySec: 30 }));
      assert.equal(again.id, first.id);
      assert.equal(again.receiveCount, 2);
    } finally {
      Date.now = realNow;
      await queue.close();
    }
  });

  it('ignores a delete with a stale receipt handle: the current delivery stays in flight', async () => {
    const q = new MemoryWorkQueue();
    await q.ensureQueue(spec);
    await q.send(spec.name, { body: 'x' });
    const first = one(await q.receive(spec.name, { max: 1, waitSec: 0, visibilitySec: 30 }));
    await q.changeVisibility(spec.name, first.receiptHandle, 0);
    const second = one(await q.receive(spec.name, { max: 1, waitSec: 0, visibilitySec: 30 }));

    await q.delete(spec.name, first.receiptHandle);
    await q.delete(spec.name, 'not-a-handle');
    assert.deepEqual(await q.stats(spec.name), { visible: 0, inFlight: 1, delayed: 0 });
    await assert.rejects(q.changeVisibility(spec.name, first.receiptHandle, 10), NotFoundError);
    await q.delete(spec.name, second.receiptHandle);
    assert.deepEqual(await q.stats(spec.name), { visible: 0, inFlight: 0, delayed: 0 });
    await q.close();
  });

  it('follows an injected clock: visibility timeouts, delays and long polls without sleeping', async () => {
    const clock = new ManualClock();
    const q = new MemoryWorkQueue({ clock });
    await q.ensureQueue(spec);
    await q.send(spec.name, { body: 'x' });
    await q.send(spec.name, { body: 'delayed', delaySec: 600 });
    const first = one(await q.receive(spec.name, { max: 10, waitSec: 0, visibilitySec: 30 }));

    // A long poll is woken when the delivery times out, not only by sends.
    const polling = q.receive(spec.name, { max: 1, waitSec: 20, visibilitySec: 300 });
    await clock.advance(15_000);
    assert.equal(clock.pending > 0, true);
    assert.deepEqual(await q.stats(spec.name), { visible: 0, inFlight: 1, delayed: 1 });
    await clock.advance(5_000);
    assert.deepEqual(await polling, [], 'the 20 s wait ends first');

    const again = q.receive(spec.name, { max: 1, waitSec: 20, visibilitySec: 300 });
    await clock.advance(10_000);
    const second = one(await again);
    assert.equal(second.id, first.id);
    assert.equal(second.receiveCount, 2);

    await clock.advance(600_000);
    const later = await q.receive(spec.name, { max: 10, waitSec: 0, visibilitySec: 300 });
    assert.deepEqual(later.map((m) => m.body).sort(), ['delayed', 'x']);
    assert.equal(clock.pending, 0);
    await q.close();
  });

  it('keeps the message id and receive count when redriving to the dead-letter queue', async () => {
    const q = new MemoryWorkQueue();
    await q.ensureQueue(spec);
    await q.send(spec.name, { body: 'poison' });
    let id = '';
    for (let i = 0; i < spec.maxReceiveCount; i++) {
      const m = one(await q.receive(spec.name, { max: 1, waitSec: 0, visibilitySec: 30 }));
      id = m.id;
      await q.changeVisibility(spec.name, m.receiptHandle, 0);
    }
    const polling = q.receive(spec.deadLetter, { max: 1, waitSec: 20, visibilitySec: 30 });
    assert.deepEqual(await q.receive(spec.name, { max: 1, waitSec: 0, visibilitySec: 30 }), []);
    const dead = one(await polling);
    assert.equal(dead.id, id);
    assert.equal(dead.receiveCount, spec.maxReceiveCount + 1);
    await q.close();
  });

  it('validates like SQS: parameter ranges, empty bodies, at most 10 attributes, and sends a batch all or nothing', async () => {
    const q = new MemoryWorkQueue();
    await q.ensureQueue(spec);
    await assert.rejects(q.receive(spec.name, { max: 11, waitSec: 0, visibilitySec: 30 }), OptionError);
    await assert.rejects(q.receive(spec.name, { max: 1, waitSec: 21, visibilitySec: 30 }), OptionError);
    await assert.rejects(q.send(spec.name, { body: '' }), OptionError);
    await assert.rejects(q.send(spec.name, { body: 'x', delaySec: 901 }), OptionError);
    const attributes = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`a${i}`, 'v']));
    await assert.rejects(q.sendBatch(spec.name, [{ body: 'ok' }, { body: 'x', attributes }]), OptionError);
    assert.deepEqual(await q.stats(spec.name), { visible: 0, inFlight: 0, delayed: 0 });
    await assert.rejects(q.ensureQueue({ ...spec, name: 'has a space' }), OptionError);
    assert.throws(() => new MemoryWorkQueue({ store: new MemoryQueueStore(), clock: new ManualClock() }), OptionError);
    await q.close();
  });
});
