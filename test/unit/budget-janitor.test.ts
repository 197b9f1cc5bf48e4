// No ghost locks: a granted node that discovery no longer returns (terminated, removed from the inventory) has
// its grant released by a router's janitor, with the reason in the event log; a failed discovery releases nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { waitForGrant } from '../../core/budget/grant-waiter.js';
import { BudgetKeeper } from '../../core/budget/keeper.js';
import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { StaticDiscovery } from '../../core/discovery/discovery.js';
import { silentLogger } from '../../core/logger.js';
import { TaskStore } from '../../core/task/task-store.js';
import { BudgetJanitor } from '../../router/budget-janitor.js';

describe('budget janitor (router)', () => {
  let dir = '';
  const zk = new MemoryCoordinatorStore();
  after(async () => {
    await zk.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('releases the grant of a node that left the inventory, and keeps the others', async () => {
    dir = await mkdtemp(join(tmpdir(), 'tm-janitor-'));
    const inv = join(dir, 'inv.yaml');
    await writeFile(inv, 'clusters:\n  "redis:cache": [r1, r2, r3]\n');
    const store = new TaskStore(zk.session(), '/janitor');
    await store.init();
    const budget = new BudgetStore(store.coordinator, store.paths);
    const keeper = new BudgetKeeper({ store: budget, cluster: 'redis:cache', by: 'test', checks: {}, logger: silentLogger, tickMs: 100 });
    await keeper.start();
    for (const node of ['r2', 'r3']) {
      const g = await waitForGrant(budget, 'redis:cache', { node, zone: undefined, kind: 'hold', task_id: undefined, limit: undefined, exclusive: false, priority: 'normal', requested_at: new Date().toISOString(), by: 'alice', reason: 'maintenance', ttl_ms: undefined });
      g.close();
    }
    await budget.recordInventory('redis:cache', { discovery: 'static', inventory: 'inv.yaml', nodes: ['r1', 'r2', 'r3'], at: new Date().toISOString() });
    const janitor = new BudgetJanitor({ store, discovery: { static: new StaticDiscovery(dir) }, logger: silentLogger, by: 'router@test' });
    assert.deepEqual(await janitor.sweep(), [], 'every granted node is still in the cluster');

    await writeFile(inv, 'clusters:\n  "redis:cache": [r1, r2]\n');
    assert.deepEqual(await janitor.sweep(), ['redis:cache/r3']);
    assert.deepEqual((await budget.grants('redis:cache')).map((g) => g.node), ['r2']);
    const ev = (await budget.events('redis:cache')).at(-1);
    assert.equal(ev?.kind, 'left_cluster');
    assert.equal(ev?.by, 'router@test');
    assert.match(ev?.reason ?? '', /left the cluster: not returned by static discovery/);

    // Discovery failing is not "every node left".
    await writeFile(inv, 'not: [valid');
    assert.deepEqual(await janitor.sweep(), []);
    assert.deepEqual((await budget.grants('redis:cache')).map((g) => g.node), ['r2']);
    await keeper.stop();
  });
});
