// kafka:restart against a fake cluster behind the KafkaAdmin port (test/support/fake-kafka/), and the CLI
// adapter's parsers on the tools' real output formats.
import assert from 'node:assert/strict';
import { parseBrokerApiVersions, parseConfigsDescribe, parseQuorumStatus, parseTopicsDescribe, parseZkController } from '../../actions/kafka/kafka-cli-admin.js';
import { kafkaRestartConfigSchema } from '../../actions/kafka/kafka-config.js';
import { createKafkaRestartAction } from '../../actions/kafka/kafka-restart.js';
import { MemoryServiceManager } from '../../actions/kit/memory-service-manager.js';
import type { PeerNode, TaskPeers } from '../../actions/task-peers.js';
import { DeferredError, TaskermanError } from '../../core/errors.js';
import { TERMINAL_NODE_STATES } from '../../core/task/task.js';
import { runAllSteps, testAttempt } from '../support/test-attempt.js';
import { FakeKafkaCluster } from '../support/fake-kafka/fake-kafka-cluster.js';

const peersOf = (list: PeerNode[]): TaskPeers => ({ pending: async (_t, self) => list.filter((p) => p.node !== self && !TERMINAL_NODE_STATES.includes(p.state)) });

async function rejects(p: Promise<unknown>, re: RegExp): Promise<unknown> {
  const err = await p.then(
    () => assert.fail('expected an error'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof TaskermanError, String(err));
  assert.match(err.message, re);
  return err;
}

describe('kafka:restart (fake cluster behind the admin port)', function () {
  this.timeout(20_000);
  let kafka: FakeKafkaCluster;
  beforeEach(() => {
    kafka = new FakeKafkaCluster([1, 2, 3], 1);
    kafka.addTopic('events', 6, 3, 2);
    kafka.addTopic('__consumer_offsets', 3, 3, 2);
  });
  afterEach(() => kafka.close());

  function setup(broker: number, extra: Record<string, unknown> = {}, peers: TaskPeers = peersOf([])) {
    const config = kafkaRestartConfigSchema.parse({ broker_id: broker, poll_interval: '10ms', ready_timeout: '3s', isr_timeout: '3s', controller_last_wait: '100ms', ...extra });
    const services = new MemoryServiceManager({ kafka: { onRestart: async () => kafka.restartBroker(broker) } });
    const action = createKafkaRestartAction({ config, services, peers, admin: () => kafka });
    return { action, services, args: action.args.parse({}) };
  }

  it('restarts a broker and passes once it is back in every ISR with nothing under-replicated', async () => {
    const { action, services, args } = setup(2);
    const t = testAttempt(args, { node: 'kafka-2' });
    await runAllSteps(action, t.ctx);
    assert.deepEqual(services.calls, ['restart kafka']);
    assert.ok(kafka.partitions.every((p) => p.isr.length === p.replicas.length));
    assert.equal(t.checkpoint.get('kafka_restart_begun'), null);
  });

  it('refuses while a partition it is in sync for is at min.insync.replicas', async () => {
    kafka.partition('events', 4).isr = [2, 3]; // broker 1 lagging: ISR 2 = min 2, broker 2 in it
    const { action, services, args } = setup(2);
    await rejects(action.preCheck!(testAttempt(args).ctx), /1 partition\(s\) this broker hosts are at or under min\.insync\.replicas.*events-4 \(ISR 2,3, min\.insync\.replicas 2\)/);
    assert.deepEqual(services.calls, []);
  });

  it('refuses while a partition it hosts is already under min.insync.replicas', async () => {
    kafka.partition('events', 0).isr = [1]; // replicas 1,2,3; broker 2 out of sync already
    await rejects(setup(2).action.preCheck!(testAttempt({}).ctx), /events-0 \(ISR 1, min\.insync\.replicas 2\)/);
  });

  it('refuses an offline partition, and skips topics whose replication factor is under min ISR', async () => {
    kafka.addTopic('single', 1, 1, 2); // RF 1 < min 2: can never satisfy it, does not block the roll
    await setup(1).action.preCheck!(testAttempt({}).ctx);
    kafka.partition('events', 1).leader = null;
    await rejects(setup(2).action.preCheck!(testAttempt({}).ctx), /have no leader: events-1/);
  });

  it('refuses a broker that is not registered', async () => {
    kafka.stopBroker(3);
    await rejects(setup(3).action.preCheck!(testAttempt({}).ctx), /broker 3 is not registered/);
  });

  it('the active controller defers while other brokers of its task have not started, then goes', async () => {
    const err = await rejects(setup(1, {}, peersOf([{ node: 'kafka-2', state: 'WAITING' }, { node: 'kafka-3', state: 'QUEUED' }])).action.preCheck!(testAttempt({}, { node: 'kafka-1' }).ctx), /broker 1 is the active controller; it goes last, after kafka-2 \(WAITING\), kafka-3 \(QUEUED\)/);
    assert.ok(err instanceof DeferredError);
    // Others in flight (holding their own grants): it waits for them, bounded, then defers.
    const t0 = Date.now();
    await rejects(setup(1, {}, peersOf([{ node: 'kafka-2', state: 'STARTED' }])).action.preCheck!(testAttempt({}, { node: 'kafka-1' }).ctx), /still waiting for kafka-2 \(STARTED\)/);
    assert.ok(Date.now() - t0 >= 100);
    await setup(1, {}, peersOf([{ node: 'kafka-2', state: 'SUCCEEDED' }])).action.preCheck!(testAttempt({}, { node: 'kafka-1' }).ctx);
  });

  it('defer (before any grant): the controller waits while brokers of its task are not done; others never', async () => {
    const pending = peersOf([{ node: 'kafka-2', state: 'STARTED' }, { node: 'kafka-3', state: 'SUCCEEDED' }]);
    const dctx = (node: string) => ({ ...testAttempt({}, { node }).ctx });
    assert.equal(await setup(1, {}, pending).action.defer!(dctx('kafka-1')), 'broker 1 is the active controller; it goes last, after kafka-2 (STARTED)');
    assert.equal(await setup(2, {}, peersOf([{ node: 'kafka-1', state: 'WAITING' }])).action.defer!(dctx('kafka-2')), undefined);
    assert.equal(await setup(1, {}, peersOf([{ node: 'kafka-2', state: 'DEAD' }])).action.defer!(dctx('kafka-1')), undefined);
    // Nothing pending: Kafka is not even asked (defer runs every few seconds while a node waits).
    const asked = kafka.calls.length;
    assert.equal(await setup(1, {}, peersOf([])).action.defer!(dctx('kafka-1')), undefined);
    assert.equal(kafka.calls.length, asked);
    // The controller moved (an election): the new one defers.
    kafka.controller = 2;
    assert.match((await setup(2, {}, peersOf([{ node: 'kafka-1', state: 'QUEUED' }])).action.defer!(dctx('kafka-2'))) ?? '', /broker 2 is the active controller/);
  });

  it('post_check reports a broker that does not rejoin its ISRs within the bound', async () => {
    kafka.lagging.add(3);
    const { action, args } = setup(3, { isr_timeout: '1s' });
    const t = testAttempt(args);
    await action.preCheck!(t.ctx);
    await action.execute(t.ctx);
    await rejects(action.postCheck!(t.ctx), /gave up waiting for broker 3 back in every ISR.*not yet in the ISR of 9 partition\(s\)/);
  });

  it('a resumed attempt counts its own broker as in sync while it is away', async () => {
    const { action, args } = setup(2);
    kafka.stopBroker(2); // our earlier attempt restarted it and the runner died
    await rejects(action.preCheck!(testAttempt(args).ctx), /not registered/);
    const t = testAttempt(args, { attempt: 2, checkpoint: new Map([['kafka_restart_begun', new Date().toISOString()]]) });
    await action.preCheck!(t.ctx);
    kafka.startBroker(2);
    await action.postCheck!(t.ctx);
  });
});

describe('Kafka CLI admin parsers (the tools\' output formats)', () => {
  it('kafka-topics.sh --describe', () => {
    const out = [
      'Topic: events\tTopicId: IqhV7b88R7WmsR896YM5Cw\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: min.insync.replicas=2,segment.bytes=1073741824',
      '\tTopic: events\tPartition: 0\tLeader: 1\tReplicas: 1,2,3\tIsr: 1,2\tElr: \tLastKnownElr: ',
      '\tTopic: events\tPartition: 1\tLeader: none\tReplicas: 2,3,1\tIsr: ',
      'Topic: __consumer_offsets\tTopicId: kxPiuKD4RnKagBcmP1gxCg\tPartitionCount: 1\tReplicationFactor: 3\tConfigs: compression.type=producer,cleanup.policy=compact',
      '\tTopic: __consumer_offsets\tPartition: 0\tLeader: 3\tReplicas: 3,1,2\tIsr: 3,1,2',
    ].join('\n');
    assert.deepEqual(parseTopicsDescribe(out), [
      { name: 'events', internal: false, partitions: [{ partition: 0, leader: 1, replicas: [1, 2, 3], isr: [1, 2] }, { partition: 1, leader: null, replicas: [2, 3, 1], isr: [] }] },
      { name: '__consumer_offsets', internal: true, partitions: [{ partition: 0, leader: 3, replicas: [3, 1, 2], isr: [3, 1, 2] }] },
    ]);
  });

  it('kafka-configs.sh --describe --all, kafka-metadata-quorum.sh describe --status, kafka-broker-api-versions.sh', () => {
    const cfg = parseConfigsDescribe('All configs for topic events are:\n  cleanup.policy=delete sensitive=false synonyms={DEFAULT_CONFIG:log.cleanup.policy=delete}\n  min.insync.replicas=2 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:min.insync.replicas=2, DEFAULT_CONFIG:min.insync.replicas=1}\nAll configs for topic logs are:\n  min.insync.replicas=1 sensitive=false synonyms={DEFAULT_CONFIG:min.insync.replicas=1}\n');
    assert.equal(cfg.get('events')?.['min.insync.replicas'], '2');
    assert.equal(cfg.get('logs')?.['min.insync.replicas'], '1');
    assert.deepEqual(parseQuorumStatus('ClusterId:              MkU3OEVBNTcwNTJENDM2Qk\nLeaderId:               1\nLeaderEpoch:            15\nHighWatermark:          1234\nMaxFollowerLag:         0\nCurrentVoters:          [1,2,3]\n'), { clusterId: 'MkU3OEVBNTcwNTJENDM2Qk', leaderId: 1 });
    assert.deepEqual(parseQuorumStatus('ClusterId: x\nLeaderId: -1\n').leaderId, null);
    const brokers = parseBrokerApiVersions('kafka-1:9092 (id: 1 rack: eu-west-1a) -> (\n\tProduce(0): 0 to 9 [usable: 9],\n)\nkafka-2:9092 (id: 2 rack: null) -> (\n\tProduce(0): 0 to 9 [usable: 9],\n)\n');
    assert.deepEqual(brokers.map((b) => b.id), [1, 2]);
    assert.equal(parseZkController('Connecting to zk1:2181\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n{"version":2,"brokerid":3,"timestamp":"1700000000000","kraftControllerEpoch":-1}\n'), 3);
    assert.equal(parseZkController('Connecting to zk1:2181\nNode does not exist: /controller\n'), null);
    assert.throws(() => parseBrokerApiVersions('Connection to node -1 could not be established.'), /cannot read/);
  });
});
