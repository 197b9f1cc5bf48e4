// elasticsearch:restart against a fake cluster of loopback HTTP nodes (test/support/fake-elasticsearch/):
// refusals (red, yellow with require_green, a primary with no replica elsewhere, moving shards, another
// master away), the allocation setting restored even when the restart fails, a cluster that stays yellow
// reported within the bound, the elected master going last, and the node shutdown API variant.
import assert from 'node:assert/strict';
import { elasticsearchRestartConfigSchema } from '../../actions/elasticsearch/elasticsearch-config.js';
import { createElasticsearchRestartAction } from '../../actions/elasticsearch/elasticsearch-restart.js';
import { MemoryServiceManager } from '../../actions/kit/memory-service-manager.js';
import type { PeerNode, TaskPeers } from '../../actions/task-peers.js';
import { DeferredError, TaskermanError } from '../../core/errors.js';
import { TERMINAL_NODE_STATES } from '../../core/task/task.js';
import { runAllSteps, testAttempt } from '../support/test-attempt.js';
import { FakeEsCluster } from '../support/fake-elasticsearch/fake-es-cluster.js';

const FAST = { poll_interval: '20ms', request_timeout: '5s', rejoin_timeout: '5s', recover_timeout: '5s', master_last_wait: '200ms' };

function peersOf(list: PeerNode[]): TaskPeers {
  return { pending: async (_t, self) => list.filter((p) => p.node !== self && !TERMINAL_NODE_STATES.includes(p.state)) };
}

async function rejects(p: Promise<unknown>, re: RegExp): Promise<unknown> {
  const err = await p.then(
    () => assert.fail('expected an error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TaskermanError, String(err));
  assert.match(err.message, re);
  return err;
}

describe('elasticsearch:restart (fake cluster over HTTP)', function () {
  this.timeout(30_000);
  let es: FakeEsCluster;

  async function cluster(opts: ConstructorParameters<typeof FakeEsCluster>[0] = { nodes: [{ name: 'es-1' }, { name: 'es-2' }, { name: 'es-3' }], master: 'es-1' }) {
    es = new FakeEsCluster(opts);
    await es.start();
    return es;
  }
  afterEach(async () => es?.close());

  function setup(node: string, extra: Record<string, unknown> = {}, peers: TaskPeers = peersOf([]), onRestart?: () => Promise<void>) {
    const others = es.nodes.filter((n) => n.name !== node).map((n) => es.url(n.name));
    const config = elasticsearchRestartConfigSchema.parse({ url: es.url(node), peer_urls: others, ...FAST, ...extra });
    const services = new MemoryServiceManager({ elasticsearch: { onRestart: onRestart ?? (async () => es.restartNode(node, 50)) } });
    const action = createElasticsearchRestartAction({ config, services, peers });
    return { action, services, args: action.args.parse({}) };
  }

  it('holds replica allocation, flushes, restarts, puts the setting back and waits for green', async () => {
    await cluster();
    const { action, services, args } = setup('es-2');
    const t = testAttempt(args, { node: 'es-2' });
    await runAllSteps(action, t.ctx);
    assert.deepEqual(services.calls, ['restart elasticsearch']);
    const puts = es.requests.filter((r) => r.method === 'PUT' && r.path.startsWith('/_cluster/settings')).map((r) => r.body);
    assert.deepEqual(puts, [{ persistent: { 'cluster.routing.allocation.enable': 'primaries' } }, { persistent: { 'cluster.routing.allocation.enable': null } }]);
    assert.ok(es.requests.some((r) => r.method === 'POST' && r.path === '/_flush'));
    assert.equal(es.health(), 'green');
    assert.equal(es.allocationEnable(), 'all');
    assert.equal(t.checkpoint.get('elasticsearch_before'), null);
  });

  it('refuses a red cluster', async () => {
    await cluster();
    es.shards.filter((s) => s.index === 'logs-2026.11.30' && s.shard === 0).forEach((s) => (s.state = 'UNASSIGNED'));
    const { action, args, services } = setup('es-2');
    await rejects(action.preCheck!(testAttempt(args).ctx), /cluster is red/);
    assert.deepEqual(services.calls, []);
  });

  it('refuses a yellow cluster with require_green, and a primary here whose replica is missing', async () => {
    await cluster();
    // es-2 holds the primary of shard 1; its replica (on es-3) is unassigned: yellow, and es-2 is its only copy.
    const replica = es.shards.find((s) => s.shard === 1 && s.prirep === 'r')!;
    const primary = es.shards.find((s) => s.shard === 1 && s.prirep === 'p')!;
    assert.equal(primary.node, 'es-2');
    replica.state = 'UNASSIGNED';
    assert.equal(es.health(), 'yellow');
    await rejects(setup('es-2', { require_green: true }).action.preCheck!(testAttempt({ flush: true }).ctx), /cluster is yellow and require_green is set/);
    await rejects(setup('es-2').action.preCheck!(testAttempt({ flush: true }).ctx), /1 primary shard\(s\) on this node have no started replica elsewhere: logs-2026\.11\.30\[1\]/);
    // The same yellow cluster is fine for a node whose primaries all have started replicas elsewhere.
    await setup('es-1').action.preCheck!(testAttempt({ flush: true }, { node: 'es-1' }).ctx);
  });

  it('refuses while shards are initializing or relocating', async () => {
    await cluster();
    es.shards[0]!.state = 'RELOCATING';
    await rejects(setup('es-2').action.preCheck!(testAttempt({ flush: true }).ctx), /shards are moving: 0 initializing, 1 relocating/);
  });

  it('refuses a master-eligible node while another master-eligible node is away (one master at a time)', async () => {
    await cluster({ nodes: [{ name: 'es-1' }, { name: 'es-2' }, { name: 'es-3' }, { name: 'es-m', roles: 'm' }, { name: 'es-d', roles: 'd' }], master: 'es-1' });
    es.stopNode('es-m');
    assert.equal(es.health(), 'green');
    await rejects(setup('es-2').action.preCheck!(testAttempt({ flush: true }, { node: 'es-2' }).ctx), /another master-eligible node is not in the cluster \(es-?m/);
    // A data-only node is not a master: it may go.
    await setup('es-d').action.preCheck!(testAttempt({ flush: true }, { node: 'es-d' }).ctx);
  });

  it('puts the allocation setting back to its previous value when the restart fails', async () => {
    await cluster();
    es.settings.persistent['cluster.routing.allocation.enable'] = 'new_primaries';
    const { action, args } = setup('es-2', {}, peersOf([]), async () => {
      throw new Error('Job for elasticsearch.service failed because the control process exited with error code.');
    });
    const t = testAttempt(args);
    await action.preCheck!(t.ctx);
    await rejects(action.execute(t.ctx), /elasticsearch failed to start/);
    assert.equal(es.settings.persistent['cluster.routing.allocation.enable'], 'new_primaries');
    const puts = es.requests.filter((r) => r.method === 'PUT').map((r) => r.body);
    assert.deepEqual(puts, [{ persistent: { 'cluster.routing.allocation.enable': 'primaries' } }, { persistent: { 'cluster.routing.allocation.enable': 'new_primaries' } }]);
  });

  it('a retried attempt restores the value from before the first attempt, not the primaries it left', async () => {
    await cluster();
    const { action, args } = setup('es-2');
    const first = testAttempt(args);
    await action.preCheck!(first.ctx);
    // The first attempt set primaries and its runner died before the finally.
    es.settings.persistent['cluster.routing.allocation.enable'] = 'primaries';
    const second = testAttempt(args, { attempt: 2, checkpoint: first.checkpoint, history: [{ attempt: 1, startedAt: new Date().toISOString(), interrupted: true }] });
    await runAllSteps(action, second.ctx);
    assert.equal(es.settings.persistent['cluster.routing.allocation.enable'], undefined);
    assert.equal(es.health(), 'green');
  });

  it('a cluster that stays yellow after the restart fails the post_check within its bound, setting restored', async () => {
    await cluster();
    es.stuckReplicas = true;
    const { action, args } = setup('es-2', { recover_timeout: '1s' });
    const t = testAttempt(args);
    await action.preCheck!(t.ctx);
    await action.execute(t.ctx);
    const t0 = Date.now();
    await rejects(action.postCheck!(t.ctx), /cluster did not get back to green within 1000 ms after the restart: yellow, \d+ unassigned shards/);
    assert.ok(Date.now() - t0 < 10_000, `reported after ${Date.now() - t0} ms`);
    assert.equal(es.allocationEnable(), 'all');
  });

  it('a cluster that was yellow before is held to yellow, not green', async () => {
    await cluster({ nodes: [{ name: 'es-1' }, { name: 'es-2' }, { name: 'es-3' }], master: 'es-1', indices: [{ index: 'logs', shards: 3, replicas: 1 }, { index: 'wide', shards: 1, replicas: 3 }] });
    assert.equal(es.health(), 'yellow', 'a replica that cannot be placed (3 replicas on 3 nodes)');
    es.stuckReplicas = true;
    const { action, args } = setup('es-2');
    await runAllSteps(action, testAttempt(args).ctx).catch((e: unknown) => assert.fail(String(e)));
  });

  it('the elected master defers while other nodes of its task have not started', async () => {
    await cluster();
    const { action, args, services } = setup('es-1', {}, peersOf([{ node: 'es-2', state: 'WAITING' }, { node: 'es-3', state: 'SUCCEEDED' }]));
    const err = await rejects(action.preCheck!(testAttempt(args, { node: 'es-1' }).ctx), /es-1 is the elected master; it goes last, after es-2 \(WAITING\)/);
    assert.ok(err instanceof DeferredError);
    assert.deepEqual(services.calls, []);
    // A non-master node with the same peers does not defer.
    await setup('es-2', {}, peersOf([{ node: 'es-1', state: 'WAITING' }])).action.preCheck!(testAttempt(args, { node: 'es-2' }).ctx);
    // Once the others are done, the master goes.
    await setup('es-1', {}, peersOf([])).action.preCheck!(testAttempt(args, { node: 'es-1' }).ctx);
  });

  it('defer (before any grant): the elected master waits while nodes of its task are not done', async () => {
    await cluster();
    const pending = peersOf([{ node: 'es-3', state: 'QUEUED' }]);
    assert.equal(await setup('es-1', {}, pending).action.defer!(testAttempt({ flush: true }, { node: 'es-1' }).ctx), 'es-1 is the elected master; it goes last, after es-3 (QUEUED)');
    assert.equal(await setup('es-2', {}, pending).action.defer!(testAttempt({ flush: true }, { node: 'es-2' }).ctx), undefined);
  });

  it('with the node shutdown API: registers a restart, and deletes the record once the node is back', async () => {
    await cluster();
    const { action, args } = setup('es-3', { method: 'auto' });
    await runAllSteps(action, testAttempt(args, { node: 'es-3' }).ctx);
    const sd = es.requests.filter((r) => r.path.includes('/shutdown')).map((r) => `${r.method} ${(r.body as { type?: string } | undefined)?.type ?? ''}`.trim());
    assert.deepEqual(sd, ['PUT restart', 'DELETE']);
    assert.equal(es.shutdowns.size, 0);
    assert.ok(!es.requests.some((r) => r.method === 'PUT' && r.path.startsWith('/_cluster/settings')), 'allocation untouched');
  });
});
