// "The controller goes last": an action's preCheck defers (DeferredError) while other nodes of its task have
// not started, and the runner hands its slot on, asks again behind them, and does not count the deferral
// as a failed attempt. Run through real runners and a router on the in-memory backends, with limit 1, where
// holding the slot while waiting would deadlock the rollout.
import assert from 'node:assert/strict';
import { z } from 'zod';
import { defineAction } from '../../actions/action.js';
import { goLast, taskStorePeers, type TaskPeers } from '../../actions/task-peers.js';
import { DeferredError } from '../../core/errors.js';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { freshQueuePrefix, freshZkRoot } from '../support/env.js';
import { Harness } from '../support/harness.js';

describe('goLast: a node that must go last defers to the others of its task', function () {
  this.timeout(60_000);
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  for (const limit of [1, 2]) {
    it(`the "controller" executes after every other node, with limit ${limit}, and its deferrals cost no attempt`, async () => {
      const order: string[] = [];
      let running = 0;
      let maxRunning = 0;
      const ref: { peers?: TaskPeers } = {};
      const action = defineAction({
        name: 'last-probe',
        version: 1,
        description: 'n1 is the controller',
        args: z.strictObject({}),
        async preCheck(ctx) {
          if (ctx.node === 'n1') await goLast(ctx, ref.peers!, { why: 'n1 is the controller', pollMs: 20, maxWaitMs: 2000, retryAfterMs: 50 });
        },
        async execute(ctx) {
          running++;
          maxRunning = Math.max(maxRunning, running);
          order.push(ctx.node);
          await new Promise((r) => setTimeout(r, 50));
          running--;
        },
      });
      const queues = new MemoryQueueStore();
      const zk = new MemoryCoordinatorStore();
      const nodes = ['n1', 'n2', 'n3', 'n4', 'n5'];
      h = new Harness({
        backend: { queue: () => new MemoryWorkQueue({ store: queues }), session: async () => zk.session(), cleanup: async () => zk.stop() },
        cluster: 'kafka:events',
        nodes,
        zkRoot: freshZkRoot(),
        queuePrefix: freshQueuePrefix(),
        actions: [action],
      });
      await h.start();
      ref.peers = taskStorePeers(h.store);
      const taskId = await h.submit({ action: 'last-probe', limit, retry: { count: 0 } });
      const { task, nodes: recs } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded', recs.map((n) => `${n.node}=${n.state} ${n.error ?? ''}`).join('; '));
      assert.equal(order.length, 5);
      assert.equal(order[4], 'n1', `order ${order.join(',')}`);
      assert.ok(maxRunning <= limit);
      const n1 = recs.find((r) => r.node === 'n1')!;
      // With retry.count 0 a single counted failure would have killed it: deferrals are not failures.
      assert.equal(n1.state, 'SUCCEEDED');
      const deferred = n1.history.filter((a) => a.error?.startsWith('DEFERRED'));
      if (limit === 1) assert.ok(deferred.length >= 1, 'with one slot, n1 must have handed it on at least once');
      assert.ok(deferred.every((a) => a.counted === false));
    });
  }
});

describe('DeferredError outside pre_check', function () {
  this.timeout(30_000);
  it('is a failed attempt, not a deferral: the grant is not handed on after execute changed something', async () => {
    const action = defineAction({
      name: 'late-defer',
      version: 1,
      description: 'defers from execute, which is a bug',
      args: z.strictObject({}),
      async execute() {
        throw new DeferredError('too late to defer', 10);
      },
    });
    const queues = new MemoryQueueStore();
    const zk = new MemoryCoordinatorStore();
    const h = new Harness({
      backend: { queue: () => new MemoryWorkQueue({ store: queues }), session: async () => zk.session(), cleanup: async () => zk.stop() },
      cluster: 'c',
      nodes: ['n1'],
      zkRoot: freshZkRoot(),
      queuePrefix: freshQueuePrefix(),
      actions: [action],
    });
    try {
      await h.start();
      const taskId = await h.submit({ action: 'late-defer', limit: 1, retry: { count: 0 } });
      const { nodes } = await h.waitFinal(taskId);
      assert.equal(nodes[0]?.state, 'DEAD');
      assert.match(nodes[0]?.error ?? '', /execute cannot defer \(only pre_check can\)/);
    } finally {
      await h.stop();
    }
  });
});

describe('DeferredError and the grant', function () {
  this.timeout(60_000);
  it('a fresh grant is handed on; a grant the node already failed under is kept while it defers', async () => {
    const seen: Array<{ attempt: number; grantHeld: boolean }> = [];
    const ref: { h?: Harness } = {};
    const grantHeld = async () => Boolean(await new BudgetStore(ref.h!.store.coordinator, ref.h!.store.paths).getGrant('c', 'n1'));
    const action = defineAction({
      name: 'fail-then-defer',
      version: 1,
      description: 'attempt 1 defers (fresh grant), 2 fails, 3 defers (grant kept), 4 passes',
      args: z.strictObject({}),
      async preCheck(ctx) {
        if (ctx.attempt === 1 || ctx.attempt === 3) {
          // Look at the grant shortly after the runner handled the deferral.
          setTimeout(() => void grantHeld().then((held) => seen.push({ attempt: ctx.attempt, grantHeld: held })), 400);
          throw new DeferredError(`defer on attempt ${ctx.attempt}`, 1500);
        }
        if (ctx.attempt === 2) throw new Error('the node is down');
      },
      async execute() {},
    });
    const queues = new MemoryQueueStore();
    const zk = new MemoryCoordinatorStore();
    const h = new Harness({
      backend: { queue: () => new MemoryWorkQueue({ store: queues }), session: async () => zk.session(), cleanup: async () => zk.stop() },
      cluster: 'c',
      nodes: ['n1'],
      zkRoot: freshZkRoot(),
      queuePrefix: freshQueuePrefix(),
      actions: [action],
    });
    ref.h = h;
    try {
      await h.start();
      const taskId = await h.submit({ action: 'fail-then-defer', limit: 1, retry: { count: 1, backoff: '100ms' } });
      const { nodes } = await h.waitFinal(taskId);
      assert.equal(nodes[0]?.state, 'SUCCEEDED', nodes[0]?.error);
      assert.deepEqual(seen, [
        { attempt: 1, grantHeld: false },
        { attempt: 3, grantHeld: true },
      ]);
    } finally {
      await h.stop();
    }
  });
});
