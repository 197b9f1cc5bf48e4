// Action.defer: a node whose action defers waits without a grant (so it blocks no other node of the task,
// even at limit 1) and starts once its action stops deferring: the ZooKeeper leader-last order.
import assert from 'node:assert/strict';
import { z } from 'zod';
import { defineAction } from '../../../actions/action.js';
import { builtinRegistry } from '../../../actions/builtin.js';
import { TERMINAL_NODE_STATES } from '../../../core/task/task.js';
import { MemoryCoordinatorStore } from '../../../core/coordination/memory-coordinator.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../../core/queue/memory-work-queue.js';
import { freshQueuePrefix, freshZkRoot } from '../../support/env.js';
import { Harness } from '../../support/harness.js';

describe('Action.defer (runner)', () => {
  it('a deferring node holds no grant: at limit 1 the others go first, and it goes last', async function () {
    this.timeout(60_000);
    const order: string[] = [];
    const reasons = new Set<string>();
    const ref: { h?: Harness } = {};
    const lastOne = defineAction({
      name: 'last-one',
      version: 1,
      description: 'n1 goes last',
      args: z.strictObject({}),
      async defer(ctx) {
        if (ctx.node !== 'n1') return undefined;
        const pending = (await ref.h!.store.listNodes(ctx.taskId)).filter((n) => n.node !== 'n1' && !TERMINAL_NODE_STATES.includes(n.state));
        return pending.length > 0 ? `waiting for ${pending.map((n) => n.node).join(', ')}` : undefined;
      },
      async execute(ctx) {
        order.push(ctx.node);
      },
    });
    const queues = new MemoryQueueStore();
    const zk = new MemoryCoordinatorStore();
    const h = (ref.h = new Harness({
      backend: { queue: () => new MemoryWorkQueue({ store: queues }), session: async () => zk.session(), cleanup: async () => zk.stop() },
      cluster: 'zk:main',
      nodes: ['n1', 'n2', 'n3'],
      zkRoot: freshZkRoot(),
      queuePrefix: freshQueuePrefix(),
      registry: () => builtinRegistry({ extra: [lastOne] }),
    }));
    try {
      await h.start();
      const taskId = await h.submit({ action: 'last-one', limit: 1, args: {} });
      await h.waitFor(taskId, 'n1 deferred', (nodes) => {
        const n1 = nodes.find((n) => n.node === 'n1');
        if (n1?.reason) reasons.add(n1.reason);
        return n1?.reason?.startsWith('deferred:') ?? false;
      });
      const { task } = await h.waitFinal(taskId, 45_000);
      assert.equal(task.state, 'succeeded');
      assert.equal(order.length, 3);
      assert.equal(order[2], 'n1', `order was ${order.join(', ')}`);
      assert.ok([...reasons].some((r) => /^deferred: waiting for n2|^deferred: waiting for n3/.test(r)), [...reasons].join(' | '));
    } finally {
      await h.stop();
    }
  });
});
