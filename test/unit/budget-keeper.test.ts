// The keeper's reads: a round reads only what its watches say changed (a release lists the grants folder; it
// does not read the policy, the gate, the known nodes and the members again), and a gate written behind its
// back (another keeper, after a handover) makes its transaction fail, after which it reads everything afresh
// and grants from the true state.
import assert from 'node:assert/strict';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { waitForGrant, type HeldGrant } from '../../core/budget/grant-waiter.js';
import { BudgetKeeper } from '../../core/budget/keeper.js';
import { parsePolicy } from '../../core/budget/policy.js';
import type { RequestRecord } from '../../core/budget/records.js';
import type { Coordinator } from '../../core/coordination/coordinator.js';
import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { zkPaths } from '../../core/coordination/zk-paths.js';
import { silentLogger } from '../../core/logger.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { TaskStore } from '../../core/task/task-store.js';
import { newTaskId } from '../../core/task/task.js';
import { waitUntil } from '../support/wait-until.js';

const CLUSTER = 'redis:cache';

/** The coordinator, recording the path of every read (get, children, exists), and every call in order. */
function recording(inner: Coordinator): { coordinator: Coordinator; reads: string[]; calls: string[] } {
  const reads: string[] = [];
  const calls: string[] = [];
  const coordinator = new Proxy(inner, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (key === 'get' || key === 'children' || key === 'exists') {
        return (path: string, ...rest: unknown[]) => {
          reads.push(path);
          calls.push(`${key} ${path}`);
          return (v as (...a: unknown[]) => unknown).call(target, path, ...rest);
        };
      }
      if (key === 'transaction') {
        return (ops: Array<{ op: string; path: string }>, ...rest: unknown[]) => {
          calls.push(`transaction ${ops.map((o) => `${o.op} ${o.path}`).join(', ')}`);
          return (v as (...a: unknown[]) => unknown).call(target, ops, ...rest);
        };
      }
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { coordinator, reads, calls };
}

/** Until the recorded calls stop growing (the keeper's rounds have settled). */
async function untilQuiet(log: readonly string[]): Promise<void> {
  await waitUntil('the keeper to go quiet', async () => {
    const n = log.length;
    await new Promise((r) => setTimeout(r, 100));
    return log.length === n;
  });
}

const hold = (node: string): RequestRecord => ({ node, zone: undefined, kind: 'hold', task_id: undefined, limit: undefined, exclusive: false, priority: 'normal', requested_at: new Date().toISOString(), by: 'alice', reason: 'disk swap', ttl_ms: undefined });

describe('budget keeper: what a round reads', () => {
  const zk = new MemoryCoordinatorStore();
  const held: HeldGrant[] = [];
  let keeper: BudgetKeeper | undefined;
  afterEach(async () => {
    for (const g of held.splice(0)) g.close();
    await keeper?.stop();
    keeper = undefined;
  });
  after(() => zk.stop());

  async function setup(root: string): Promise<{ budget: BudgetStore; reads: string[]; calls: string[] }> {
    const paths = zkPaths(root);
    const admin = new BudgetStore(zk.session(), paths);
    await admin.applyPolicy(parsePolicy({ cluster: CLUSTER, budget: 1 }), 'test');
    const { coordinator, reads, calls } = recording(zk.session());
    // Ticks (which read everything, as a safety net) far apart, so that only watches drive the rounds here.
    keeper = new BudgetKeeper({ store: new BudgetStore(coordinator, paths), cluster: CLUSTER, by: 'test', checks: {}, logger: silentLogger, tickMs: 600_000 });
    await keeper.start();
    await waitUntil('the keeper to lead', async () => keeper?.isLeading);
    return { budget: admin, reads, calls };
  }

  /** a holds the grant and b waits behind it; once the keeper is quiet, `log` is emptied and a released; until b is granted. */
  async function handOff(budget: BudgetStore, log: string[]): Promise<void> {
    held.push(await waitForGrant(budget, CLUSTER, hold('a')));
    const b = waitForGrant(budget, CLUSTER, hold('b'));
    await waitUntil('b to wait behind a', async () => (await budget.getGate(CLUSTER)).value.waiting.some((w) => w.node === 'b'));
    // Let the rounds caused by b's request settle.
    await untilQuiet(log);
    log.length = 0;
    await budget.releaseGrant(CLUSTER, 'a', { by: 'alice', reason: 'done', kind: 'released' });
    held.push(await b);
  }

  it('after a release, lists the grants and requests folders only: no policy, gate, known nodes or members again', async () => {
    const { budget, reads } = await setup('/keeper-reads');
    const paths = budget.paths;
    await handOff(budget, reads);
    await untilQuiet(reads);

    assert.ok(reads.length > 0, 'the release was seen through a read');
    const unchanged = [paths.policy(CLUSTER), paths.gate(CLUSTER), paths.knownNodes(CLUSTER), paths.clusterMembers(CLUSTER)];
    assert.deepEqual(reads.filter((p) => unchanged.includes(p)), [], `read again although nothing changed there: ${reads.join(', ')}`);
    // The folders, and a watch on the grant just made (its release will name it).
    assert.ok(reads.every((p) => p === paths.grants(CLUSTER) || p === paths.requests(CLUSTER) || p === paths.grant(CLUSTER, 'b')), `reads: ${reads.join(', ')}`);
  });

  it('a release is acted on before the grants folder is listed: the watch on the released grant names it', async () => {
    const { budget, calls } = await setup('/keeper-release-first');
    const paths = budget.paths;
    await handOff(budget, calls);
    const grantOfB = calls.findIndex((c) => c.startsWith('transaction') && c.includes(`create ${paths.grant(CLUSTER, 'b')}`));
    const firstListing = calls.indexOf(`children ${paths.grants(CLUSTER)}`);
    assert.ok(grantOfB >= 0, `calls: ${calls.join('; ')}`);
    assert.ok(firstListing === -1 || firstListing > grantOfB, `the grants folder was listed before b was granted: ${calls.join('; ')}`);
    // The folder is still listed afterwards (its watch fired), which re-arms its watch.
    await waitUntil('the grants folder listed again', async () => calls.includes(`children ${paths.grants(CLUSTER)}`));
  });

  it('a grant marked dead behind its back is read again; the budget still counts it', async () => {
    const { budget } = await setup('/keeper-dead-mark');
    const a = await waitForGrant(budget, CLUSTER, hold('a'));
    held.push(a);
    await budget.markDead(CLUSTER, 'a', a.record.token, 'post_check failed 3 times');
    const b = waitForGrant(budget, CLUSTER, hold('b'));
    await waitUntil('b to wait behind a', async () => (await budget.getGate(CLUSTER)).value.waiting.some((w) => w.node === 'b'));
    assert.deepEqual((await budget.grants(CLUSTER)).map((g) => g.node), ['a'], 'a dead grant still holds its slot');
    await budget.releaseGrant(CLUSTER, 'a', { by: 'alice', reason: 'repaired by hand', kind: 'released' });
    held.push(await b);
    assert.deepEqual((await budget.grants(CLUSTER)).map((g) => g.node), ['b']);
  });

  it('a gate written behind its back makes its write fail; it reads afresh and still grants, within the budget', async () => {
    const { budget } = await setup('/keeper-conflict');
    held.push(await waitForGrant(budget, CLUSTER, hold('a')));
    // Another keeper (a handover) wrote the gate since this one cached it.
    const gatePath = budget.paths.gate(CLUSTER);
    const gate = await budget.coordinator.get(gatePath);
    assert.ok(gate);
    await budget.coordinator.set(gatePath, gate.data, gate.stat.version);

    const b = waitForGrant(budget, CLUSTER, hold('b'));
    await waitUntil('b to wait behind a', async () => (await budget.getGate(CLUSTER)).value.waiting.some((w) => w.node === 'b'));
    assert.equal((await budget.grants(CLUSTER)).length, 1, 'budget 1: b waits while a holds its grant');
    // Nothing to grant while a holds its grant: the ledger is not written, so the stale version is not found out
    // yet. The release makes the keeper grant b, against the version it cached: that transaction fails.
    assert.equal(keeper?.stats.conflicts ?? 0, 0, 'no write while nothing changes in the ledger');
    await budget.releaseGrant(CLUSTER, 'a', { by: 'alice', reason: 'done', kind: 'released' });
    held.push(await b);
    assert.ok((keeper?.stats.conflicts ?? 0) >= 1, 'the stale gate made a transaction fail');
    assert.deepEqual((await budget.grants(CLUSTER)).map((g) => g.node), ['b']);
  });
});

describe('grant waiter: what a wait reads', () => {
  const zk = new MemoryCoordinatorStore();
  after(() => zk.stop());

  it('asks and watches its grant in one round trip, then reads only the grant it was given', async () => {
    const paths = zkPaths('/waiter-reads');
    const admin = new BudgetStore(zk.session(), paths);
    await admin.applyPolicy(parsePolicy({ cluster: CLUSTER, budget: 1 }), 'test');
    const keeper = new BudgetKeeper({ store: admin, cluster: CLUSTER, by: 'test', checks: {}, logger: silentLogger, tickMs: 600_000 });
    await keeper.start();
    try {
      await waitUntil('the keeper to lead', async () => keeper.isLeading);
      const first = await waitForGrant(admin, CLUSTER, hold('a'));
      const { coordinator, reads } = recording(zk.session());
      const waiting = waitForGrant(new BudgetStore(coordinator, paths), CLUSTER, hold('b'));
      await waitUntil('b to wait behind a', async () => (await admin.getGate(CLUSTER)).value.waiting.some((w) => w.node === 'b'));
      const grantOfB = paths.grant(CLUSTER, 'b');
      assert.deepEqual(reads, [grantOfB], 'while it waits: one watched look at its grant, sent with the request');
      first.close();
      await admin.releaseGrant(CLUSTER, 'a', { by: 'alice', reason: 'done', kind: 'released' });
      const b = await waiting;
      b.close();
      // Woken by the watch: the grant is read once (then watched by the held grant); the request is never looked
      // at again, nor the grant read before it exists.
      assert.deepEqual(reads.slice(0, 2), [grantOfB, grantOfB], `reads: ${reads.join(', ')}`);
      assert.ok(!reads.some((r) => r.startsWith(paths.requests(CLUSTER))), `reads: ${reads.join(', ')}`);
      assert.ok(reads.length <= 3, `reads: ${reads.join(', ')}`);
    } finally {
      await keeper.stop();
    }
  });
});

describe('budget keeper: grants a task left behind', () => {
  const zk = new MemoryCoordinatorStore();
  after(() => zk.stop());

  it('a grant whose node ended SKIPPED goes back, unless an attempt under it failed or was interrupted: that one is kept, marked dead', async () => {
    const tasks = new TaskStore(zk.session(), '/leftovers');
    await tasks.init();
    const budget = new BudgetStore(tasks.coordinator, tasks.paths);
    const taskId = newTaskId();
    const spec = parseTaskSpec({ name: 'restart', action: 'noop', cluster: CLUSTER, nodes: ['n1', 'n2'], limit: 2 });
    await tasks.createTask({ task: { taskId, spec, emittedBy: { kind: 'cli', user: 'test' }, emittedAt: new Date().toISOString() }, targets: ['n1', 'n2'], limit: 2, maxFailures: 2, state: 'routing' });
    // Sweeps every 6 ticks: every 120 ms here.
    const keeper = new BudgetKeeper({ store: budget, cluster: CLUSTER, by: 'test', checks: {}, logger: silentLogger, tickMs: 20 });
    await keeper.start();
    try {
      const ask = (node: string): RequestRecord => ({ node, zone: undefined, kind: 'task', task_id: taskId, limit: 2, exclusive: false, priority: 'normal', requested_at: new Date().toISOString(), by: node, reason: undefined, ttl_ms: undefined });
      const g1 = await waitForGrant(budget, CLUSTER, ask('n1'));
      const g2 = await waitForGrant(budget, CLUSTER, ask('n2'));
      g1.close();
      g2.close();
      const at = new Date().toISOString();
      // n1 failed an attempt under its grant and was then SKIPPED (halted while it waited to retry, its runner gone);
      // n2 was SKIPPED before any attempt. Neither grant went back with the record: both are left behind.
      await tasks.updateNode(taskId, 'n1', (r) => ({ ...r, state: 'SKIPPED', reason: 'task halted', attempts: 1, history: [{ attempt: 1, startedAt: at, endedAt: at, error: 'boom', fencingToken: g1.record.token }] }));
      await tasks.updateNode(taskId, 'n2', (r) => ({ ...r, state: 'SKIPPED', reason: 'task halted' }));

      await waitUntil('the sweep to release n2', async () => !(await budget.grants(CLUSTER)).some((g) => g.node === 'n2'));
      const n1 = await waitUntil('the sweep to mark n1 dead', async () => (await budget.grants(CLUSTER)).find((g) => g.node === 'n1' && g.dead));
      assert.match(n1.dead?.reason ?? '', /may still be disrupted/);
      assert.match((await budget.events(CLUSTER)).find((e) => e.node === 'n2')?.reason ?? '', /left behind: the node's record of task .* is SKIPPED/);
    } finally {
      await keeper.stop();
    }
  });
});

describe('budget keeper: election', () => {
  const zk = new MemoryCoordinatorStore();
  const keepers: BudgetKeeper[] = [];
  afterEach(async () => {
    await Promise.allSettled(keepers.splice(0).map((k) => k.stop()));
  });
  after(() => zk.stop());

  it('the earliest candidate leads; one leaving from the middle changes nothing; the next still standing takes over', async () => {
    const paths = zkPaths(`/t-${newTaskId()}`);
    // Twelve candidates, each on its own session, standing in the order they start.
    for (let i = 0; i < 12; i++) {
      const k = new BudgetKeeper({ store: new BudgetStore(zk.session(), paths), cluster: CLUSTER, by: `r${i}`, checks: {}, logger: silentLogger, tickMs: 600_000 });
      await k.start();
      keepers.push(k);
    }
    const leaders = () => keepers.filter((k) => k.isLeading);
    await waitUntil('one leader', async () => leaders().length === 1);
    assert.equal(leaders()[0], keepers[0]);
    // Candidates 5 and 1 leave (from the middle of the line): the leader stays.
    await keepers[5]?.stop();
    await keepers[1]?.stop();
    assert.equal(leaders()[0], keepers[0]);
    assert.equal(leaders().length, 1);
    // The leader leaves: the next still standing (candidate 2) takes over, and nobody else.
    await keepers[0]?.stop();
    await waitUntil('candidate 2 to lead', async () => keepers[2]?.isLeading);
    assert.deepEqual(leaders(), [keepers[2]]);
    await keepers[2]?.stop();
    await keepers[3]?.stop();
    await keepers[4]?.stop();
    await waitUntil('candidate 6 to lead', async () => keepers[6]?.isLeading);
    assert.deepEqual(leaders(), [keepers[6]]);
  });
});
