// cassandra:restart and cassandra:repair against the fake nodetool (test/support/fake-cassandra/): the
// refusals (a node down from here or from a peer, schema disagreement, a repair running, too many pending
// compactions), a hung drain and a hung repair, and what a resumed attempt does.
import assert from 'node:assert/strict';
import { cassandraRepairConfigSchema, cassandraRestartConfigSchema } from '../../actions/cassandra/cassandra-config.js';
import { createCassandraRepairAction } from '../../actions/cassandra/cassandra-repair.js';
import { createCassandraRestartAction } from '../../actions/cassandra/cassandra-restart.js';
import { MemoryServiceManager } from '../../actions/kit/memory-service-manager.js';
import { TaskermanError } from '../../core/errors.js';
import { testAttempt, runAllSteps } from '../support/test-attempt.js';
import { FAKE_NODETOOL, FakeCassandraCluster } from '../support/fake-cassandra/fake-cluster.js';

const FAST = { poll_interval: '20ms', settle: '100ms', up_timeout: '10s', command_timeout: '10s' };

function restartSetup(cluster: FakeCassandraCluster, node: string, extra: Record<string, unknown> = {}) {
  const services = new MemoryServiceManager({ cassandra: { onRestart: async () => cluster.restart(node) } });
  const config = cassandraRestartConfigSchema.parse({ nodetool: [process.execPath, FAKE_NODETOOL], env: cluster.env(node), ...FAST, ...extra });
  const action = createCassandraRestartAction({ config, services });
  return { action, services, args: action.args.parse({}) };
}

function repairSetup(cluster: FakeCassandraCluster, node: string, extra: Record<string, unknown> = {}) {
  const { settle: _s, up_timeout: _u, ...fast } = FAST;
  const config = cassandraRepairConfigSchema.parse({ nodetool: [process.execPath, FAKE_NODETOOL], env: cluster.env(node), ...fast, ...extra });
  return createCassandraRepairAction({ config });
}

async function refusal(p: Promise<unknown>, re: RegExp): Promise<TaskermanError> {
  const err = await p.then(
    () => assert.fail('expected a refusal'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TaskermanError, String(err));
  assert.match(err.message, re);
  return err;
}

describe('cassandra:restart (fake nodetool)', function () {
  this.timeout(60_000);
  let cluster: FakeCassandraCluster;
  beforeEach(() => {
    cluster = new FakeCassandraCluster(['r1', 'r1', 'r2', 'r2']);
  });
  afterEach(() => cluster.close());

  it('drains, restarts the unit, and passes once the node is UN again as seen from a peer', async () => {
    const { action, services, args } = restartSetup(cluster, 'cass-2');
    const t = testAttempt(args, { node: 'cass-2' });
    await runAllSteps(action, t.ctx);
    assert.deepEqual(services.calls, ['restart cassandra']);
    const calls = cluster.calls().map((c) => `${c.host ?? '-'} ${c.command}`);
    const drainAt = calls.indexOf('- drain');
    assert.ok(drainAt >= 0, calls.join('\n'));
    // The peer's view was asked before (pre_check) and after (post_check) the restart.
    assert.ok(calls.slice(0, drainAt).some((c) => c === '10.0.0.1 status'), 'pre_check asked a peer');
    assert.ok(calls.slice(drainAt).some((c) => c === '10.0.0.1 status'), 'post_check asked a peer');
    assert.equal(cluster.node('cass-2').mode, 'NORMAL');
    assert.equal(t.checkpoint.get('cassandra_restart_begun'), null, 'checkpoint cleared when done');
  });

  it('refuses while another node is down, and changes nothing', async () => {
    cluster.set('cass-4', { up: false, jmx: false });
    const { action, services, args } = restartSetup(cluster, 'cass-2');
    await refusal(action.preCheck!(testAttempt(args, { node: 'cass-2' }).ctx), /not every node is UN as seen from this node: 10\.0\.0\.4 DN/);
    assert.deepEqual(services.calls, []);
    assert.ok(!cluster.calls().some((c) => c.command === 'drain'));
  });

  it('refuses when a peer sees a node down that this node sees up', async () => {
    cluster.view('cass-1', 'cass-3', 'DN');
    const { action, args } = restartSetup(cluster, 'cass-2');
    await refusal(action.preCheck!(testAttempt(args, { node: 'cass-2' }).ctx), /as seen from 10\.0\.0\.1: 10\.0\.0\.3 DN/);
  });

  it('refuses a joining node and a schema disagreement', async () => {
    cluster.set('cass-3', { state: 'J' });
    const { action, args } = restartSetup(cluster, 'cass-2');
    await refusal(action.preCheck!(testAttempt(args, { node: 'cass-2' }).ctx), /10\.0\.0\.3 UJ/);
    cluster.set('cass-3', { state: 'N', schema: '11111111-2222-3333-4444-555555555555' });
    await refusal(action.preCheck!(testAttempt(args, { node: 'cass-2' }).ctx), /schema disagreement/);
  });

  it('refuses while a repair runs or streams flow on this node', async () => {
    const { action, args } = restartSetup(cluster, 'cass-2');
    cluster.set('cass-2', { compactions: [{ id: 'c0ffee00-0000-0000-0000-000000000002', type: 'Validation', keyspace: 'geo', table: 'counters', completed: 1, total: 10 }] });
    await refusal(action.preCheck!(testAttempt(args, { node: 'cass-2' }).ctx), /a repair is running on this node: Validation of geo\.counters/);
    cluster.set('cass-2', { compactions: [], streams: [{ description: 'Bootstrap', planId: '3a5b6c70-4f11-11ef-8d5a-0242ac120002', peer: '10.0.0.9' }] });
    await refusal(action.preCheck!(testAttempt(args, { node: 'cass-2' }).ctx), /streaming: Bootstrap/);
  });

  it('a hung drain is reported and the node is not restarted (default)', async () => {
    cluster.set('cass-2', { drain: 'hang' });
    const { action, services, args } = restartSetup(cluster, 'cass-2', { drain_timeout: '1s' });
    const t = testAttempt(args, { node: 'cass-2' });
    await action.preCheck!(t.ctx);
    const err = await refusal(action.execute(t.ctx), /nodetool drain hung: not finished after 1000 ms/);
    assert.equal(err.retryable, false);
    assert.deepEqual(services.calls, [], 'not restarted');
  });

  it('a hung drain is reported and the restart goes on when configured', async () => {
    cluster.set('cass-2', { drain: 'hang' });
    const { action, services, args } = restartSetup(cluster, 'cass-2', { drain_timeout: '1s', restart_after_hung_drain: true });
    await runAllSteps(action, testAttempt(args, { node: 'cass-2' }).ctx);
    assert.deepEqual(services.calls, ['restart cassandra']);
    assert.equal(cluster.node('cass-2').mode, 'NORMAL');
  });

  it('a resumed attempt accepts its own node drained, does not drain it again, and finishes', async () => {
    const { action, services, args } = restartSetup(cluster, 'cass-2');
    const first = testAttempt(args, { node: 'cass-2' });
    await action.preCheck!(first.ctx);
    // The first attempt drained, then the runner died before the restart.
    await first.ctx.checkpoint.set('cassandra_restart_begun', { at: new Date().toISOString(), hostId: cluster.node('cass-2').hostId, peer: '10.0.0.1' });
    cluster.set('cass-2', { mode: 'DRAINED', up: false, binary: false, gossip: false });
    const second = testAttempt(args, { node: 'cass-2', attempt: 2, checkpoint: first.checkpoint, history: [{ attempt: 1, startedAt: new Date().toISOString(), interrupted: true }] });
    await runAllSteps(action, second.ctx);
    assert.equal(cluster.calls().filter((c) => c.command === 'drain').length, 0);
    assert.deepEqual(services.calls, ['restart cassandra']);
    // Without the checkpoint the same state is refused: a node that is down is not "ours" to restart.
    cluster.set('cass-3', { mode: 'DRAINED', up: false });
    await refusal(action.preCheck!(testAttempt(args, { node: 'cass-2' }).ctx), /10\.0\.0\.3 DN/);
  });

  it('a resumed attempt whose node does not answer at all asks the peer it noted, and restarts it', async () => {
    const { action, services, args } = restartSetup(cluster, 'cass-2');
    // The earlier attempt drained and stopped the node (its runner died between stop and start).
    cluster.set('cass-2', { mode: 'DRAINED', up: false, jmx: false, binary: false, gossip: false });
    const begun = () => new Map<string, unknown>([['cassandra_restart_begun', { at: new Date().toISOString(), hostId: cluster.node('cass-2').hostId, peer: '10.0.0.1' }]]);
    const t = testAttempt(args, { node: 'cass-2', attempt: 2, checkpoint: begun() });
    await action.preCheck!(t.ctx);
    assert.ok(cluster.calls().some((c) => c.host === '10.0.0.1' && c.command === 'status'), 'asked the noted peer');
    await action.execute(t.ctx);
    await action.postCheck!(t.ctx);
    assert.deepEqual(services.calls, ['restart cassandra']);
    assert.equal(cluster.node('cass-2').mode, 'NORMAL');
    // The same, with another node down as well: refused.
    cluster.set('cass-2', { mode: 'DRAINED', up: false, jmx: false });
    cluster.set('cass-4', { up: false });
    const again = testAttempt(args, { node: 'cass-2', attempt: 3, checkpoint: begun() });
    await refusal(action.preCheck!(again.ctx), /not every other node is UN as seen from 10\.0\.0\.1: 10\.0\.0\.4 DN/);
  });

  it('post_check fails within its bound when the node never comes back', async () => {
    const services = new MemoryServiceManager({ cassandra: { onRestart: async () => cluster.restart('cass-2', { comesBack: false }) } });
    const config = cassandraRestartConfigSchema.parse({ nodetool: [process.execPath, FAKE_NODETOOL], env: cluster.env('cass-2'), ...FAST, up_timeout: '1s' });
    const action = createCassandraRestartAction({ config, services });
    const t = testAttempt(action.args.parse({}), { node: 'cass-2' });
    await action.preCheck!(t.ctx);
    await refusal(action.execute(t.ctx), /gave up waiting for gossip and native transport/);
  });

  it('refuses to run where it is not configured, naming the config section', async () => {
    const action = createCassandraRestartAction({ config: undefined, services: new MemoryServiceManager() });
    await refusal(action.preCheck!(testAttempt(action.args.parse({})).ctx), /"cassandra:restart" is not configured on this runner/);
  });
});

describe('cassandra:repair (fake nodetool)', function () {
  this.timeout(60_000);
  let cluster: FakeCassandraCluster;
  beforeEach(() => {
    cluster = new FakeCassandraCluster(['r1', 'r1', 'r2']);
  });
  afterEach(() => cluster.close());

  it('repairs the primary ranges of this node, then pauses for the intensity', async () => {
    cluster.set('cass-1', { repairMs: 300 });
    const action = repairSetup(cluster, 'cass-1');
    const args = action.args.parse({ keyspace: 'geo', intensity: 0.5 });
    const t0 = Date.now();
    await runAllSteps(action, testAttempt(args, { node: 'cass-1' }).ctx);
    const repair = cluster.calls().find((c) => c.command === 'repair');
    assert.deepEqual(repair?.args, ['-pr', '-full', '--', 'geo']);
    // intensity 0.5: the pause is as long as the repair took (>= 300 ms), so the whole took >= 600 ms.
    assert.ok(Date.now() - t0 >= 600, `took ${Date.now() - t0} ms`);
    assert.equal(cluster.node('cass-1').repairRunning, false);
  });

  it('refuses while a repair already runs on another node', async () => {
    cluster.set('cass-3', { compactions: [{ id: 'c0ffee00-0000-0000-0000-000000000003', type: 'Validation', keyspace: 'geo', table: 'counters', completed: 5, total: 10 }] });
    const action = repairSetup(cluster, 'cass-1');
    await refusal(action.preCheck!(testAttempt(action.args.parse({}), { node: 'cass-1' }).ctx), /a repair is already running on 10\.0\.0\.3/);
    cluster.set('cass-3', { compactions: [], streams: [{ description: 'Repair', planId: '3a5b6c70-4f11-11ef-8d5a-0242ac120002', peer: '10.0.0.2' }] });
    await refusal(action.preCheck!(testAttempt(action.args.parse({}), { node: 'cass-1' }).ctx), /a repair is already running on 10\.0\.0\.3: Repair 3a5b6c70/);
  });

  it('refuses over the pending compactions threshold (default 20), accepts at it', async () => {
    const action = repairSetup(cluster, 'cass-1');
    cluster.set('cass-2', { pendingCompactions: 21 });
    await refusal(action.preCheck!(testAttempt(action.args.parse({}), { node: 'cass-1' }).ctx), /10\.0\.0\.2 has 21 pending compactions \(at most 20\)/);
    cluster.set('cass-2', { pendingCompactions: 20 });
    await action.preCheck!(testAttempt(action.args.parse({}), { node: 'cass-1' }).ctx);
  });

  it('refuses with a node down', async () => {
    cluster.set('cass-2', { up: false, jmx: false });
    const action = repairSetup(cluster, 'cass-1');
    await refusal(action.preCheck!(testAttempt(action.args.parse({}), { node: 'cass-1' }).ctx), /10\.0\.0\.2 DN/);
  });

  it('cancels a hung repair after its bound and fails the attempt', async () => {
    cluster.set('cass-1', { repair: 'hang' });
    const action = repairSetup(cluster, 'cass-1', { repair_timeout: '1s' });
    const t = testAttempt(action.args.parse({}), { node: 'cass-1' });
    await action.preCheck!(t.ctx);
    await refusal(action.execute(t.ctx), /repair hung: not finished after 1000 ms; cancelled \(nodetool stop -- VALIDATION\)/);
    assert.equal(cluster.node('cass-1').repairRunning, false, 'the repair was cancelled on the node');
    assert.ok(cluster.calls().some((c) => c.command === 'stop' && c.args.includes('VALIDATION')));
  });

  it('fails the attempt when the repair fails', async () => {
    cluster.set('cass-1', { repair: 'fail' });
    const action = repairSetup(cluster, 'cass-1');
    const t = testAttempt(action.args.parse({}), { node: 'cass-1' });
    await refusal(action.execute(t.ctx), /Repair job has failed/);
  });

  it('a resumed attempt cancels the repair its interrupted attempt left running', async () => {
    cluster.set('cass-1', { repairRunning: true, compactions: [{ id: 'c0ffee00-0000-0000-0000-000000000004', type: 'Validation', keyspace: 'geo', table: 'counters', completed: 1, total: 10 }] });
    const action = repairSetup(cluster, 'cass-1');
    const args = action.args.parse({});
    // Without its checkpoint, that repair is someone else's: refused.
    await refusal(action.preCheck!(testAttempt(args, { node: 'cass-1' }).ctx), /a repair is running on this node/);
    const t = testAttempt(args, { node: 'cass-1', attempt: 2, checkpoint: new Map([['cassandra_repair_started', new Date().toISOString()]]) });
    await action.preCheck!(t.ctx);
    assert.ok(cluster.calls().some((c) => c.command === 'stop'));
    assert.equal(t.checkpoint.get('cassandra_repair_started'), null);
  });

  it('rejects bad arguments with the field named', () => {
    const action = repairSetup(cluster, 'cass-1');
    assert.throws(() => action.args.parse({ intensity: 0 }), /above 0/);
    assert.throws(() => action.args.parse({ tables: ['t'] }), /tables need a keyspace/);
    assert.throws(() => action.args.parse({ keyspace: 'geo; rm -rf /' }), /keyspace name/);
  });
});
