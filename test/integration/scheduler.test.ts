// The scheduler against a real ZooKeeper server and a real SQS-protocol server (fauxqs): three replicas,
// each with its own ZooKeeper session and SQS client, on one spec firing every second. Fresh ZooKeeper root
// and queue prefix per test, removed afterwards. Every wait is bounded; nothing asserts on elapsed time.
import assert from 'node:assert/strict';
import { silentLogger } from '../../core/logger.js';
import { queueNames, type QueueNames } from '../../core/queue/queue-names.js';
import { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { parseTaskMessage, type Task } from '../../core/task/task.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { compactFireTime, FireMarkers, fireTaskId } from '../../scheduler/fire-marker.js';
import { Scheduler, type FireEvent, type SpecSource } from '../../scheduler/scheduler.js';
import { freshQueuePrefix, freshZkRoot, requireZk, testSqsEndpoint } from '../support/env.js';

const SPEC = 'every-second';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

describe('integration: scheduler on real ZooKeeper + SQS server', function () {
  this.timeout(90_000);
  let zk: string;
  let root: string;
  let names: QueueNames;
  let admin: ZkCoordinator;
  let markers: FireMarkers;
  let opened: { close(): Promise<void> }[];
  let running: { s: Scheduler; fired: FireEvent[] }[];

  const source: SpecSource = async () => ({
    specs: [{ file: `${SPEC}.yaml`, spec: parseTaskSpec({ name: SPEC, action: 'noop', cluster: 'c1', nodes: ['n1'], schedule: '* * * * * *', timezone: 'UTC' }) }],
    issues: [],
  });

  const sqs = () => {
    const q = new SqsWorkQueue({ endpoint: testSqsEndpoint(), region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    opened.push(q);
    return q;
  };

  async function newScheduler(i: number) {
    const coordinator = await ZkCoordinator.connect({ connectionString: zk, sessionTimeoutMs: 4000 });
    opened.push(coordinator);
    const s = new Scheduler({ queue: sqs(), names, coordinator, root, source, logger: silentLogger, host: `replica-${i}` });
    const r = { s, fired: [] as FireEvent[] };
    s.on('fired', (e) => r.fired.push(e));
    running.push(r);
    return r;
  }

  const leaders = () => running.filter((r) => r.s.isLeader());

  async function sentTimes(): Promise<number[]> {
    const out: number[] = [];
    for (const t of await markers.list(SPEC)) if ((await markers.read(SPEC, t))?.marker.state === 'sent') out.push(t);
    return out;
  }

  /** Everything on the global queue (until two empty long polls in a row). */
  async function drain(): Promise<Task[]> {
    const q = sqs();
    const out: Task[] = [];
    for (let empty = 0; empty < 2; ) {
      const msgs = await q.receive(names.global, { max: 10, waitSec: 1, visibilitySec: 600 });
      empty = msgs.length === 0 ? empty + 1 : 0;
      out.push(...msgs.map((m) => parseTaskMessage(m.body)));
    }
    return out;
  }

  async function assertExactlyOncePerFireTime(): Promise<number[]> {
    const times = await markers.list(SPEC);
    for (const t of times) assert.equal((await markers.read(SPEC, t))?.marker.state, 'sent', `${compactFireTime(t)} was sent`);
    const tasks = await drain();
    assert.deepEqual(
      tasks.map((t) => t.taskId).sort(),
      times.map((t) => fireTaskId(SPEC, t)),
      'exactly one task message per fire time',
    );
    for (let i = 1; i < times.length; i++) {
      assert.equal((times[i] as number) - (times[i - 1] as number), 1000, `no fire time lost after ${compactFireTime(times[i - 1] as number)}`);
    }
    return times;
  }

  before(function () {
    zk = requireZk(this);
  });

  beforeEach(async () => {
    root = freshZkRoot();
    names = queueNames(freshQueuePrefix());
    opened = [];
    running = [];
    admin = await ZkCoordinator.connect({ connectionString: zk });
    markers = new FireMarkers(admin, root);
    await sqs().ensureQueue({ name: names.global, deadLetter: names.globalDlq, maxReceiveCount: 10, visibilityTimeoutSec: 30 });
  });

  afterEach(async () => {
    await Promise.allSettled(running.map((r) => r.s.stop()));
    await Promise.allSettled(opened.map((o) => o.close()));
    await admin.removeRecursive(root);
    await admin.close();
  });

  it('three schedulers on one spec firing every second: every fire time produced exactly one task and one marker', async function () {
    const rs = await Promise.all([0, 1, 2].map(newScheduler));
    await Promise.all(rs.map((r) => r.s.start()));
    await waitFor('one leader', () => leaders().length === 1);
    await waitFor('4 fire times sent', async () => (await sentTimes()).length >= 4);
    assert.equal(leaders().length, 1);
    await Promise.all(rs.map((r) => r.s.stop()));
    const times = await assertExactlyOncePerFireTime();
    assert.ok(times.length >= 4);
    assert.equal(rs.filter((r) => r.fired.length > 0).length, 1, 'only the leader fired');
  });

  it('the leader stops: the next replica leads at once; no fire time lost or doubled across the handover', async function () {
    const rs = await Promise.all([0, 1, 2].map(newScheduler));
    for (const r of rs) await r.s.start();
    await waitFor('2 fire times sent', async () => (await sentTimes()).length >= 2);
    const old = leaders()[0];
    assert.ok(old);
    await old.s.stop();
    await waitFor('a new leader', () => leaders().length === 1 && leaders()[0] !== old);
    const next = leaders()[0];
    await waitFor('2 fire times sent by the new leader', () => (next?.fired.length ?? 0) >= 2);
    await Promise.all(rs.map((r) => r.s.stop()));
    await assertExactlyOncePerFireTime();
  });
});
