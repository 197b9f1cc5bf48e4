// A rolling cassandra:restart through a router and six real runners (in-memory backends) over six fake
// Cassandra nodes in two racks that share one scripted ring (test/support/fake-cassandra/): every node ends
// SUCCEEDED, each is drained before its unit restarts; with limit 1, one node down at a time; with the cluster
// budget's zone_budget: 1 (each runner's zone is its rack), never two nodes of one rack down at once.
import assert from 'node:assert/strict';
import type { ActionContext, AnyAction } from '../../actions/action.js';
import { defineAction } from '../../actions/action.js';
import { cassandraRestartConfigSchema } from '../../actions/cassandra/cassandra-config.js';
import { createCassandraRestartAction } from '../../actions/cassandra/cassandra-restart.js';
import { MemoryServiceManager } from '../../actions/kit/memory-service-manager.js';
import { ActionRegistry } from '../../actions/registry.js';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { parsePolicy } from '../../core/budget/policy.js';
import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { freshQueuePrefix, freshZkRoot } from '../support/env.js';
import { FAKE_NODETOOL, FakeCassandraCluster } from '../support/fake-cassandra/fake-cluster.js';
import { Harness } from '../support/harness.js';

const RACKS = ['r1', 'r1', 'r1', 'r2', 'r2', 'r2'];

describe('rolling cassandra:restart over six fake nodes in two racks', function () {
  this.timeout(240_000);
  let h: Harness | undefined;
  let ring: FakeCassandraCluster | undefined;
  let sampler: NodeJS.Timeout | undefined;
  let undrainedRestarts: string[] = [];
  afterEach(async () => {
    clearInterval(sampler);
    await h?.stop();
    ring?.close();
    h = undefined;
  });

  /** The ring, one cassandra:restart per node (each runner's own nodetool) behind one name, and a sampler of who is down. */
  async function start(): Promise<{ nodes: string[]; restarts: string[]; downSets: string[][] }> {
    ring = new FakeCassandraCluster(RACKS);
    const nodes = ring.read().nodes.map((n) => n.name);
    const restarts: string[] = [];
    undrainedRestarts = [];
    const perNode = new Map<string, AnyAction>();
    for (const node of nodes) {
      const services = new MemoryServiceManager({
        cassandra: {
          onRestart: async () => {
            restarts.push(node);
            // Its own drain must already be in nodetool's log when its unit restarts.
            if (!ring!.calls().some((c) => c.command === 'drain' && c.self === node)) undrainedRestarts.push(node);
            ring!.restart(node, { bootMs: 50, joinMs: 50 });
          },
        },
      });
      const config = cassandraRestartConfigSchema.parse({ nodetool: [process.execPath, FAKE_NODETOOL], env: ring.env(node), poll_interval: '50ms', settle: '200ms', up_timeout: '30s', command_timeout: '20s' });
      perNode.set(node, createCassandraRestartAction({ config, services }));
    }
    const base = perNode.get(nodes[0] as string)!;
    const of = (ctx: ActionContext<unknown>) => perNode.get(ctx.node)!;
    const action = defineAction<unknown>({ ...base, preCheck: (ctx) => of(ctx).preCheck!(ctx), execute: (ctx) => of(ctx).execute(ctx), postCheck: (ctx) => of(ctx).postCheck!(ctx) });
    const downSets: string[][] = [];
    sampler = setInterval(() => {
      try {
        const down = ring!.read().nodes.filter((n) => !n.up).map((n) => n.name);
        if (down.length) downSets.push(down);
      } catch {
        // the file is being replaced: next sample
      }
    }, 10);
    const queues = new MemoryQueueStore();
    const zk = new MemoryCoordinatorStore();
    h = new Harness({
      backend: { queue: () => new MemoryWorkQueue({ store: queues }), session: async () => zk.session(), cleanup: async () => zk.stop() },
      cluster: 'cassandra:geo_counter',
      nodes,
      zkRoot: freshZkRoot(),
      queuePrefix: freshQueuePrefix(),
      // Router and runners know this one cassandra:restart (the built-in one has no config in a test).
      registry: () => new ActionRegistry([action]),
      runnerOptions: (node) => ({ zone: RACKS[nodes.indexOf(node)] }),
    });
    await h.start();
    return { nodes, restarts, downSets };
  }

  async function finish(taskId: string, nodes: string[], restarts: string[]): Promise<void> {
    const { task, nodes: recs } = await h!.waitFinal(taskId, 220_000);
    assert.equal(task.state, 'succeeded', recs.map((r) => `${r.node}=${r.state} ${r.error ?? ''}`).join('\n'));
    // A second restart of a node means a second attempt ran its execute: say which attempt failed, and how.
    const attempts = recs.map((r) => `${r.node}: ${r.attempts} attempt(s)${(r.history ?? []).map((a) => `; #${a.attempt} ${a.error ?? 'ok'}`).join('')}`).join('\n');
    assert.deepEqual([...restarts].sort(), nodes, `each node restarted once\n${attempts}`);
    // Each node was drained (by its own nodetool) before its unit restarted. Two nodes of different racks run
    // side by side under a budget of 2, so the order of drains across nodes need not be the order of restarts.
    assert.deepEqual(undrainedRestarts, [], 'restarted before its own drain');
    assert.deepEqual(ring!.calls().filter((c) => c.command === 'drain').map((c) => c.self).sort(), nodes, 'each node drained once');
    for (const n of ring!.read().nodes) assert.equal(n.mode, 'NORMAL', n.name);
  }

  it('with limit 1: one node down at a time', async () => {
    const { nodes, restarts, downSets } = await start();
    const taskId = await h!.submit({ action: 'cassandra:restart', limit: 1, args: {}, retry: { count: 2, backoff: '1s' }, timeout: '2m' });
    await finish(taskId, nodes, restarts);
    assert.equal(Math.max(...downSets.map((d) => d.length)), 1, 'one node down at a time, and the restart did take it down');
  });

  it('with a cluster budget of 2 and zone_budget: 1 (zone = rack): never two nodes of one rack down at once', async () => {
    const { nodes, restarts, downSets } = await start();
    await new BudgetStore(h!.store.coordinator, h!.store.paths).applyPolicy(parsePolicy({ cluster: 'cassandra:geo_counter', budget: 2, zone_budget: 1 }), 'test');
    // The pre_check wants every node UN: a node granted while the other rack's node is down is refused and
    // retried, so retries are generous; what the budget guarantees is the per-rack order checked below.
    const taskId = await h!.submit({ action: 'cassandra:restart', limit: 2, args: {}, retry: { count: 10, backoff: '500ms' }, timeout: '2m' });
    await finish(taskId, nodes, restarts);
    const rackOf = (n: string) => RACKS[nodes.indexOf(n)];
    for (const down of downSets) {
      assert.ok(down.length <= 2, `at most the budget down: ${down.join(',')}`);
      assert.equal(new Set(down.map(rackOf)).size, down.length, `two nodes of one rack down at once: ${down.join(',')}`);
    }
    // Every node of both racks was restarted (one after the other within a rack, by the samples above).
    for (const rack of ['r1', 'r2']) assert.equal(restarts.filter((n) => rackOf(n) === rack).length, 3, rack);
  });
});
