// A rolling cassandra:restart through a router and six real runners (in-memory backends) over six fake
// Cassandra nodes in two racks that share one scripted ring (test/support/fake-cassandra/): every node ends
// SUCCEEDED, each is drained before its unit restarts, and the ring never has more than one node down.
//
// Not here yet: the same rollout with the cluster budget's zone_budget: 1 (issue 7, core/budget/), which would
// let two nodes of one rack go together and check that the racks are taken in order. See the report of issue 10.
import assert from 'node:assert/strict';
import type { ActionContext, AnyAction } from '../../actions/action.js';
import { defineAction } from '../../actions/action.js';
import { cassandraRestartConfigSchema } from '../../actions/cassandra/cassandra-config.js';
import { createCassandraRestartAction } from '../../actions/cassandra/cassandra-restart.js';
import { ActionRegistry } from '../../actions/registry.js';
import { MemoryServiceManager } from '../../actions/kit/memory-service-manager.js';
import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { freshQueuePrefix, freshZkRoot } from '../support/env.js';
import { FAKE_NODETOOL, FakeCassandraCluster } from '../support/fake-cassandra/fake-cluster.js';
import { Harness } from '../support/harness.js';

describe('rolling cassandra:restart over six fake nodes in two racks', function () {
  this.timeout(180_000);
  let h: Harness | undefined;
  let ring: FakeCassandraCluster | undefined;
  let sampler: NodeJS.Timeout | undefined;
  afterEach(async () => {
    clearInterval(sampler);
    await h?.stop();
    ring?.close();
    h = undefined;
  });

  it('restarts every node once, one at a time with limit 1, never two down', async () => {
    ring = new FakeCassandraCluster(['r1', 'r1', 'r1', 'r2', 'r2', 'r2']);
    const nodes = ring.read().nodes.map((n) => n.name);
    const restarts: string[] = [];
    // One action per node (each runner has its own config: its local nodetool), behind one registered name.
    const perNode = new Map<string, AnyAction>();
    for (const node of nodes) {
      const services = new MemoryServiceManager({
        cassandra: {
          onRestart: async () => {
            restarts.push(node);
            ring!.restart(node, { bootMs: 50, joinMs: 50 });
          },
        },
      });
      const config = cassandraRestartConfigSchema.parse({ nodetool: [process.execPath, FAKE_NODETOOL], env: ring.env(node), poll_interval: '50ms', settle: '200ms', up_timeout: '30s', command_timeout: '20s' });
      perNode.set(node, createCassandraRestartAction({ config, services }));
    }
    const base = perNode.get(nodes[0] as string)!;
    const of = (ctx: ActionContext<unknown>) => perNode.get(ctx.node)!;
    const action = defineAction<unknown>({
      ...base,
      preCheck: (ctx) => of(ctx).preCheck!(ctx),
      execute: (ctx) => of(ctx).execute(ctx),
      postCheck: (ctx) => of(ctx).postCheck!(ctx),
    });

    let maxDown = 0;
    sampler = setInterval(() => {
      try {
        maxDown = Math.max(maxDown, ring!.read().nodes.filter((n) => !n.up).length);
      } catch {
        // the file is being replaced: next sample
      }
    }, 10);

    const queues = new MemoryQueueStore();
    const zk = new MemoryCoordinatorStore();
    // Router and runners know this one cassandra:restart (the built-in one has no config in a test).
    class OneAction extends Harness {
      override registry() {
        return new ActionRegistry([action]);
      }
    }
    h = new OneAction({
      backend: { queue: () => new MemoryWorkQueue({ store: queues }), session: async () => zk.session(), cleanup: async () => zk.stop() },
      cluster: 'cassandra:geo_counter',
      nodes,
      zkRoot: freshZkRoot(),
      queuePrefix: freshQueuePrefix(),
      actions: [action],
    });
    await h.start();
    const taskId = await h.submit({ action: 'cassandra:restart', limit: 1, args: {}, retry: { count: 2, backoff: '1s' }, timeout: '2m' });
    const { task, nodes: recs } = await h.waitFinal(taskId, 170_000);
    assert.equal(task.state, 'succeeded', recs.map((r) => `${r.node}=${r.state} ${r.error ?? ''}`).join('\n'));
    assert.deepEqual([...restarts].sort(), nodes, 'each node restarted once');
    assert.equal(maxDown, 1, 'one node down at a time, and the restart did take it down');
    // Each node was drained (by its own nodetool) before its unit restarted, and the drains came one by one.
    const drains = ring.calls().filter((c) => c.command === 'drain').map((c) => c.self);
    assert.deepEqual(drains, restarts);
    for (const n of ring.read().nodes) assert.equal(n.mode, 'NORMAL', n.name);
  });
});
