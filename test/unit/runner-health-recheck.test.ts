// A grant a runner learns of only after a ZooKeeper blip was given on a health check that passed before the
// blip; the cluster may have turned unhealthy meanwhile. The runner checks the health gate again before acting
// on such a grant: failing, it gives the grant back and asks again, and the node starts only once the check
// passes. (The in-memory coordinator can suspend one session and resume it, delivering the watch events it
// missed, as ZooKeeper does on reconnection.)
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { waitForGrant } from '../../core/budget/grant-waiter.js';
import { parsePolicy } from '../../core/budget/policy.js';
import { MemoryCoordinatorStore, type MemoryCoordinator } from '../../core/coordination/memory-coordinator.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { freshQueuePrefix, freshZkRoot } from '../support/env.js';
import { Harness } from '../support/harness.js';
import { Probe } from '../support/probe.js';
import { waitUntil } from '../support/wait-until.js';

describe('runner: a grant learned after a ZooKeeper blip', function () {
  this.timeout(60_000);
  const zk = new MemoryCoordinatorStore();
  const queues = new MemoryQueueStore();
  let h: Harness | undefined;
  let dir = '';
  after(() => zk.stop());
  afterEach(async () => {
    await h?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('is acted on only once the cluster health check passes again', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tm-recheck-'));
    const flag = join(dir, 'healthy');
    await writeFile(flag, '');
    const checks = { ring: { argv: ['/bin/sh', '-c', `test -f ${flag} || { echo "node n09 is DN"; exit 1; }`] } };
    const probe = new Probe();
    const sessions = new Map<string, MemoryCoordinator>();
    h = new Harness({
      backend: {
        queue: () => new MemoryWorkQueue({ store: queues }),
        session: async () => zk.session(),
        cleanup: async () => undefined,
      },
      cluster: 'cassandra:ring',
      nodes: ['n02', 'n03'],
      zkRoot: freshZkRoot(),
      queuePrefix: freshQueuePrefix(),
      actions: [probe.action()],
      runnerOptions: () => ({ checks }),
      wrapSession: (c, who) => {
        sessions.set(who, c as MemoryCoordinator);
        return c;
      },
    });
    await h.start();
    const budget = new BudgetStore(h.store.coordinator, h.store.paths);
    await budget.applyPolicy(parsePolicy({ cluster: 'cassandra:ring', budget: 1, health: { check: 'ring', timeout: '5s', interval: '200ms' } }), 'test');
    // n02 and n03's runners elect the keeper; n01's comes up after, so it is not the keeper.
    await waitUntil('a keeper', async () => [...h!.runners.values()].some((r) => r.budgetKeeper.isLeading));
    const n01 = await h.newRunner('n01');
    await n01.start();
    const hold = await waitForGrant(budget, 'cassandra:ring', { node: 'n03', zone: undefined, kind: 'hold', task_id: undefined, limit: undefined, exclusive: false, priority: 'normal', requested_at: new Date().toISOString(), by: 'alice', reason: 'disk swap', ttl_ms: undefined });
    hold.close();

    const taskId = await h.submit({ nodes: ['n01'], limit: 1, args: { ms: 10 } });
    await waitUntil('n01 to wait behind the hold', async () => (await budget.inspect('cassandra:ring')).gate.waiting.some((w) => w.node === 'n01'));
    // n01's runner is cut off; meanwhile the hold ends, the keeper checks health (it passes) and grants n01,
    // and then the cluster turns unhealthy.
    const session = sessions.get('runner:n01');
    assert.ok(session);
    zk.suspend(session);
    await budget.releaseGrant('cassandra:ring', 'n03', { by: 'alice', reason: 'done', kind: 'released' });
    await waitUntil('the keeper to grant n01', async () => (await budget.grants('cassandra:ring')).some((g) => g.node === 'n01'));
    await rm(flag);
    zk.resume(session);

    await waitUntil('n01 to give its grant back', async () => !(await budget.grants('cassandra:ring')).some((g) => g.node === 'n01'));
    await waitUntil('n01 to wait on the health gate', async () => (await budget.inspect('cassandra:ring')).gate.waiting.some((w) => w.node === 'n01' && w.blocked_by === 'health'));
    assert.equal(probe.executions(taskId).size, 0, 'nothing ran while the cluster was unhealthy');
    await writeFile(flag, '');
    assert.equal((await h.waitFinal(taskId)).task.state, 'succeeded');
    assert.equal(probe.executions(taskId).get('n01'), 1);
  });
});
