// The cluster budget across ZooKeeper outages, on a ZooKeeper server of its own (so the shared one is not
// restarted under other tests): grants held through a restart shorter and longer than the session timeout are
// neither lost nor duplicated, and every live runner is a member again within seconds of ZooKeeper's return.
import assert from 'node:assert/strict';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { Harness } from '../support/harness.js';
import { freshQueuePrefix, freshZkRoot, testSqsEndpoint } from '../support/env.js';
import { Probe } from '../support/probe.js';
import { waitUntil } from '../support/wait-until.js';
import { startZkServer, zookeeperAvailable, type ZkServer } from '../support/zk-server.js';

const SESSION_MS = 4000;

describe('cluster budget across ZooKeeper restarts', function () {
  this.timeout(120_000);
  let server: ZkServer | undefined;
  let h: Harness | undefined;
  let admin: ZkCoordinator | undefined;

  before(async function () {
    if (!zookeeperAvailable()) this.skip();
    server = await startZkServer();
    admin = await ZkCoordinator.connect({ connectionString: server.connectionString, sessionTimeoutMs: 60_000, reconnectDelayMs: 100 });
  });
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });
  after(async () => {
    await admin?.close();
    await server?.stop();
  });

  for (const [what, downMs] of [
    ['shorter than the session timeout', 1000],
    ['longer than the session timeout', SESSION_MS * 2],
  ] as const) {
    it(`a restart ${what}: the held grants stay (same tokens, no new ones), members are back within seconds, the rollout finishes`, async () => {
      const srv = server as ZkServer;
      const probe = new Probe();
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      probe.onExecute = () => gate;
      const zkRoot = freshZkRoot();
      const endpoint = testSqsEndpoint();
      h = new Harness({
        backend: {
          queue: () => new SqsWorkQueue({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
          session: () => ZkCoordinator.connect({ connectionString: srv.connectionString, sessionTimeoutMs: SESSION_MS, reconnectDelayMs: 100 }),
          cleanup: async () => undefined,
        },
        cluster: 'kafka:events',
        nodes: ['b1', 'b2', 'b3', 'b4'],
        zkRoot,
        queuePrefix: freshQueuePrefix(),
        actions: [probe.action()],
        visibilitySec: 5,
      });
      await h.start();
      const budget = new BudgetStore(admin as ZkCoordinator, h.store.paths);
      const taskId = await h.submit({ limit: 2, args: { ms: 10 } });
      const before = await waitUntil('two grants held, nodes inside execute', async () => {
        const g = await budget.grants('kafka:events');
        return g.length === 2 && probe.executions(taskId).size === 2 ? g : undefined;
      });

      await srv.restart(downMs);

      // Every live runner is a member again, each owned by its runner's current session.
      let seen = '';
      await waitUntil(
        'every runner to be a member again under its own session',
        async () => {
          const bad: string[] = [];
          for (const [node, runner] of h?.runners ?? []) {
            const st = await (admin as ZkCoordinator).exists(h!.store.paths.member('kafka:events', node));
            const mine = runner.sessionId;
            if (!st || st.ephemeralOwner !== mine) bad.push(`${node}: owner ${st?.ephemeralOwner ?? 'none'}, runner session ${mine}`);
          }
          seen = bad.join('; ');
          return bad.length === 0;
        },
        // "Within seconds": the server's own start and the clients' reconnect backoff come first; on a loaded
        // 2-core machine that alone has taken over 10 s.
        30_000,
        100,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; last seen: ${seen}`);
      });
      const after = await budget.grants('kafka:events');
      assert.deepEqual(after.map((g) => [g.node, g.token]).sort(), before.map((g) => [g.node, g.token]).sort(), 'the same grants, same tokens: none lost, none added');
      open();
      const { task } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');
      assert.equal(probe.maxDisrupted(), 2);
      assert.deepEqual(await budget.grants('kafka:events'), []);
      await (admin as ZkCoordinator).removeRecursive(zkRoot);
    });
  }
});
