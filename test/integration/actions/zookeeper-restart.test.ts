// zookeeper:restart against a real three-member ensemble, through three runners (one per member, each with
// its own config): followers first, the leader last (it defers without a grant while the others wait), one
// member down at a time, and a client that writes throughout never fails for longer than an election and
// never loses its session. pre_check refuses while a member is down. The "systemctl restart" of each
// runner's service manager stops and starts that member's JVM.
import assert from 'node:assert/strict';
import { builtinRegistry } from '../../../actions/builtin.js';
import { MemoryServiceManager } from '../../../actions/kit/memory-service-manager.js';
import { createZookeeperRestartAction, zookeeperRestartConfigSchema } from '../../../actions/zookeeper/restart.js';
import { srvr } from '../../../actions/zookeeper/zk-admin.js';
import { ZkCoordinator } from '../../../core/coordination/zk-coordinator.js';
import { MemoryCoordinatorStore } from '../../../core/coordination/memory-coordinator.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../../core/queue/memory-work-queue.js';
import { freshQueuePrefix, freshZkRoot } from '../../support/env.js';
import { Harness } from '../../support/harness.js';
import { actionContext } from '../../support/action-context.js';
import { requireBinary } from '../../support/processes.js';
import { startEnsemble, type Ensemble } from '../../support/zk-ensemble.js';
import { zookeeperAvailable } from '../../support/zk-server.js';

/** The longest a writing client may fail: one leader election plus the client's reconnect (generous: loaded CI). */
const ELECTION_BOUND_MS = 15_000;
const SESSION_TIMEOUT_MS = 30_000;
const signal = new AbortController().signal;

describe('zookeeper:restart (real three-member ensemble, three runners)', function () {
  this.timeout(600_000);
  let ensemble: Ensemble | undefined;

  before(async function () {
    requireBinary(this, zookeeperAvailable(), 'zookeeper');
    ensemble = await startEnsemble(3);
  });
  after(async () => ensemble?.stop());

  const configFor = (i: number) => zookeeperRestartConfigSchema.parse({ member: ensemble!.members[i]!.address, ensemble: ensemble!.members.map((m) => m.address), four_letter_timeout_seconds: 3 });

  it('pre_check refuses while a member is down, naming it', async () => {
    const e = ensemble!;
    const down = e.members[1]!;
    const action = createZookeeperRestartAction(configFor(0), { serviceManager: new MemoryServiceManager({ 'zookeeper.service': {} }) });
    await down.stop();
    try {
      await assert.rejects(action.preCheck!(actionContext(action, {})), (err: Error) => /the ensemble is not whole/.test(err.message) && err.message.includes(`${down.address} does not answer`));
    } finally {
      down.start();
      await e.waitServing();
    }
    // Whole again: the same check passes (so the refusal above was about the member being down).
    await pollPreCheck(action);
  });

  it('restarts all three, followers first and the leader last, one member down at a time; a writer never fails longer than an election', async () => {
    const e = ensemble!;
    const restarts: Array<{ member: string; mode: string; othersServing: number; at: number }> = [];
    const managers = e.members.map(
      (m) =>
        new MemoryServiceManager({
          'zookeeper.service': {
            onRestart: async () => {
              const others = e.members.filter((o) => o !== m);
              const modes = await Promise.all(others.map((o) => srvr({ host: '127.0.0.1', port: o.clientPort }, { signal, timeoutMs: 2000 }).then((s) => (s.serving ? s.mode : ''), () => '')));
              const mine = await srvr({ host: '127.0.0.1', port: m.clientPort }, { signal, timeoutMs: 2000 }).then((s) => s.mode, () => 'down');
              restarts.push({ member: m.address, mode: mine, othersServing: modes.filter((x) => x === 'leader' || x === 'follower').length, at: Date.now() });
              await m.stop();
              m.start();
            },
          },
        }),
    );
    const queues = new MemoryQueueStore();
    const zk = new MemoryCoordinatorStore();
    const nodes = ['zk1', 'zk2', 'zk3'];
    const ref: { h?: Harness } = {};
    const h = (ref.h = new Harness({
      backend: { queue: () => new MemoryWorkQueue({ store: queues }), session: async () => zk.session(), cleanup: async () => zk.stop() },
      cluster: 'zookeeper:main',
      nodes,
      zkRoot: freshZkRoot(),
      queuePrefix: freshQueuePrefix(),
      visibilitySec: 30,
      registry: (who) => {
        const i = nodes.indexOf(who.replace('runner:', ''));
        return builtinRegistry({
          actions: i >= 0 ? { 'zookeeper:restart': configFor(i) } : {},
          deps: { serviceManager: managers[Math.max(i, 0)]!, taskNodes: async (taskId) => (await ref.h!.store.listNodes(taskId)).map((n) => ({ node: n.node, state: n.state })) },
        });
      },
    }));

    const writer = await ZkCoordinator.connect({ connectionString: e.connectionString, sessionTimeoutMs: SESSION_TIMEOUT_MS, connectTimeoutMs: 30_000 });
    const states: string[] = [];
    writer.onSessionState((s) => states.push(s));
    const path = `/probe-${Date.now()}`;
    await writer.create(path, Buffer.from('0'));
    let writing = true;
    const okAt: number[] = [];
    let failedSince: number | undefined;
    let longestFailureMs = 0;
    const deadline = Date.now() + 540_000;
    const writes = (async () => {
      for (let i = 1; writing && Date.now() < deadline; i++) {
        try {
          await writer.set(path, Buffer.from(String(i)), -1);
          okAt.push(Date.now());
          if (failedSince !== undefined) longestFailureMs = Math.max(longestFailureMs, Date.now() - failedSince);
          failedSince = undefined;
        } catch {
          failedSince ??= Date.now();
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    // Whether the ensemble took writes, apart from one client's luck in finding a serving member again (the
    // roaming writer above tries the members in list order, pausing after a full round, and may land on the
    // next member to restart): a writer pinned to each member, its connection string naming that member alone.
    const pinned = await Promise.all(e.members.map((m) => ZkCoordinator.connect({ connectionString: `127.0.0.1:${m.clientPort}`, sessionTimeoutMs: SESSION_TIMEOUT_MS, connectTimeoutMs: 30_000 })));
    const anyOkAt: number[] = [];
    const pinnedWrites = pinned.map((c, j) =>
      (async () => {
        for (let i = 1; writing && Date.now() < deadline; i++) {
          try {
            await c.set(path, Buffer.from(`pinned-${j}-${i}`), -1);
            anyOkAt.push(Date.now());
          } catch {
            // Its member is down or rejoining: another member's writer covers the moment.
          }
          await new Promise((r) => setTimeout(r, 100));
        }
      })(),
    );

    try {
      await h.start();
      const before = await e.waitServing();
      const leaderBefore = e.members[before.indexOf('leader')]!.address;
      const taskId = await h.submit({ action: 'zookeeper:restart', limit: 1, args: { settle_seconds: 1, rejoin_timeout_seconds: 180 }, timeout: '10m', retry: { count: 0, backoff: '1s' } });
      const { task, nodes: recs } = await h.waitFinal(taskId, 480_000);
      assert.equal(task.state, 'succeeded', recs.map((n) => `${n.node}=${n.state} ${n.error ?? ''}`).join('; '));
      writing = false;
      await writes;

      assert.equal(restarts.length, 3, JSON.stringify(restarts));
      assert.deepEqual(new Set(restarts.map((r) => r.member)).size, 3, 'each member restarted once');
      assert.deepEqual(restarts.map((r) => r.mode), ['follower', 'follower', 'leader'], JSON.stringify(restarts));
      assert.equal(restarts[2]!.member, leaderBefore, 'the leader of before the roll went last');
      for (const r of restarts) assert.equal(r.othersServing, 2, `when ${r.member} went down both others served: ${JSON.stringify(restarts)}`);
      // The ensemble took writes between every two restarts and after the last one (the roll never stopped them).
      await Promise.all(pinnedWrites);
      const wrote = [...okAt, ...anyOkAt];
      for (const [i, r] of restarts.entries()) {
        const until = restarts[i + 1]?.at ?? Infinity;
        assert.ok(wrote.some((t) => t > r.at && t < until), `a write succeeded after the restart of ${r.member}`);
      }
      assert.ok(longestFailureMs < ELECTION_BOUND_MS, `the writer failed for ${longestFailureMs} ms at most (bound ${ELECTION_BOUND_MS})`);
      assert.equal(states.includes('lost'), false, `the writer's session survived: ${states.join(', ')}`);
      if (process.env.TASKERMAN_TEST_VERBOSE) process.stderr.write(`${JSON.stringify({ restarts, longestFailureMs, writes: okAt.length, states })}\n`);
      const after = await e.waitServing();
      assert.equal(after.filter((m) => m === 'leader').length, 1);
    } finally {
      writing = false;
      await Promise.all([writes, ...pinnedWrites]);
      await Promise.all(pinned.map((c) => c.close()));
      await writer.close();
      await h.stop();
    }
  });
});

/** The ensemble just came back: its followers sync within a bounded wait. */
async function pollPreCheck(action: ReturnType<typeof createZookeeperRestartAction>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await action.preCheck!(actionContext(action, {}));
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
