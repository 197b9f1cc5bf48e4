// LazyWorkQueue: the adapter is built on the first call and only then; it passes the WorkQueue contract.
import assert from 'node:assert/strict';
import { LazyWorkQueue } from '../../core/queue/lazy-work-queue.js';
import { MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { workQueueContract } from '../contract/work-queue.contract.js';
import { freshQueuePrefix } from '../support/env.js';

workQueueContract('LazyWorkQueue over MemoryWorkQueue', async () => {
  const inner = new MemoryWorkQueue();
  const queue = new LazyWorkQueue(async () => inner);
  const prefix = freshQueuePrefix();
  return {
    queue,
    prefix,
    cleanup: async () => {
      for (const name of await inner.list(prefix)) await inner.deleteQueue(name);
      await queue.close();
    },
  };
});

describe('LazyWorkQueue', () => {
  it('builds nothing until the first call, then once', async () => {
    let builds = 0;
    const inner = new MemoryWorkQueue();
    const q = new LazyWorkQueue(async () => {
      builds++;
      return inner;
    });
    assert.equal(q.loaded, false);
    assert.equal(builds, 0);
    await Promise.all([q.exists('a'), q.exists('b'), q.list('x')]);
    assert.equal(builds, 1);
    assert.equal(q.loaded, true);
    await q.close();
  });

  it('close() before any call builds nothing', async () => {
    let builds = 0;
    const q = new LazyWorkQueue(async () => {
      builds++;
      return new MemoryWorkQueue();
    });
    await q.close();
    assert.equal(builds, 0);
  });

  it('a failed build is tried again by the next call', async () => {
    let builds = 0;
    const q = new LazyWorkQueue(async () => {
      builds++;
      if (builds === 1) throw new Error('module missing');
      return new MemoryWorkQueue();
    });
    await assert.rejects(q.exists('a'), /module missing/);
    assert.equal(await q.exists('a'), false);
    assert.equal(builds, 2);
    await q.close();
  });
});
