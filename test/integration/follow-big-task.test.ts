// Sessions with thousands of watches across a ZooKeeper restart, on a ZooKeeper server of their own.
// node-zookeeper-client sends every watch of a session again, in one request, when it reconnects; a follower
// that watched every node record of a 10,000-node task (names as long as EC2's) sent about 1.3 MB, which the
// server refuses by dropping the connection: the session flapped thousands of times a minute and the
// follower never saw the task end. The adapter now sends them in requests of at most 128 KB of paths, and a
// follower of a big task holds a bounded number of watches anyway.
import assert from 'node:assert/strict';
import { waitForTask } from '../../cli/wait.js';
import { SET_WATCHES_MAX_BYTES, ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { TaskStore } from '../../core/task/task-store.js';
import { MAX_TARGETS } from '../../core/task/task-bounds.js';
import { newTaskId } from '../../core/task/task.js';
import { within } from '../contract/coordinator.contract.js';
import { freshZkRoot } from '../support/env.js';
import { waitUntil } from '../support/wait-until.js';
import { startZkServer, zookeeperAvailable, type ZkServer } from '../support/zk-server.js';

describe('thousands of watches across a ZooKeeper restart', function () {
  this.timeout(180_000);
  let server: ZkServer | undefined;
  const sessions: ZkCoordinator[] = [];

  before(async function () {
    if (!zookeeperAvailable()) this.skip();
    server = await startZkServer();
  });
  after(async () => {
    await Promise.allSettled(sessions.map((s) => s.close()));
    await server?.stop();
  });

  const connect = async () => {
    const c = await ZkCoordinator.connect({ connectionString: (server as ZkServer).connectionString, sessionTimeoutMs: 60_000, reconnectDelayMs: 100 });
    sessions.push(c);
    return c;
  };

  it('a session with 1.5 MB of watches keeps its connection through a restart, and its watches still fire', async () => {
    const srv = server as ZkServer;
    const session = await connect();
    const dir = freshZkRoot();
    // Watches on the creation of 12,000 paths of 128 characters: twelve times what one SetWatches request carries.
    const paths = Array.from({ length: 12_000 }, (_, i) => `${dir}/${String(i).padStart(6, '0')}-${'x'.repeat(128 - dir.length - 8)}`);
    assert.ok(paths.reduce((n, p) => n + p.length, 0) > 12 * SET_WATCHES_MAX_BYTES * 0.9);
    const fired = new Set<string>();
    for (let i = 0; i < paths.length; i += 1000) {
      await Promise.all(paths.slice(i, i + 1000).map((p) => session.exists(p, (ev) => ev.type === 'created' && fired.add(p))));
    }
    let flaps = 0;
    session.onSessionState((s) => {
      if (s === 'suspended') flaps++;
    });

    await srv.restart(500);
    await waitUntil('the session back', async () => (await session.exists('/').catch(() => undefined)) !== undefined, 60_000);
    const writer = await connect();
    await writer.mkdirp(dir);
    const last = paths[paths.length - 1] as string;
    await writer.create(last);
    await waitUntil('the watch on the last path to fire', async () => fired.has(last), 30_000);
    assert.deepEqual([...fired], [last], 'only the path created fired');
    assert.ok(flaps <= 3, `the connection dropped ${flaps} times`);
  });

  it('a follower of a 10,000-node task keeps its session through the restart and sees the task end', async () => {
    const srv = server as ZkServer;
    const root = freshZkRoot();
    const admin = new TaskStore(await connect(), root);
    await admin.init();
    // EC2-style private DNS names, as a fleet found through aws_tags discovery has them.
    const targets = Array.from({ length: MAX_TARGETS }, (_, i) => `ip-10-${i >> 8}-${i & 255}-7.eu-west-1.compute.internal.fleet.example`);
    const taskId = newTaskId();
    await admin.createTask({
      task: { taskId, spec: parseTaskSpec({ name: 'fleet', action: 'noop', cluster: 'fleet:all', discovery: 'members' }), emittedBy: { kind: 'cli', user: 'ana' }, emittedAt: new Date().toISOString() },
      targets,
      limit: 100,
      maxFailures: 10,
      state: 'routing',
    });
    await admin.recordNodes(taskId, targets);

    const followerSession = await connect();
    let flaps = 0;
    followerSession.onSessionState((s) => {
      if (s === 'suspended') flaps++;
    });
    let seen!: () => void;
    const firstSight = new Promise<void>((r) => (seen = r));
    const following = waitForTask(new TaskStore(followerSession, root), taskId, { progress: () => seen(), giveUpMs: 120_000, timeoutMs: 150_000 });
    await within(firstSight, 'the first sight of the task', 60_000);

    await srv.restart(500);
    // (The writer's own session may still be reconnecting: its write is made once it is back.)
    await waitUntil(
      'the cancel to be written',
      async () => {
        await admin.setTaskState(taskId, 'cancelled', 'cancelled by the test');
        return (await admin.getTask(taskId))?.value.state === 'cancelled';
      },
      60_000,
    );
    const r = await within(following, 'the follower to see the end', 60_000);
    assert.equal(r?.task.state, 'cancelled');
    assert.equal(r?.nodes.length, MAX_TARGETS);
    assert.ok(flaps <= 3, `the follower's connection dropped ${flaps} times`);
  });
});
