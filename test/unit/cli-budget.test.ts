// The operator's side of the cluster budget, on the in-memory coordinator: `hold` (granted with no runner
// live, refused by --now with the keeper's reason, waiting until there is room), what `budget` shows of a
// snapshot, `status`'s reason for a WAITING node, and the demo's count of nodes inside an action at once.
import assert from 'node:assert/strict';
import { budgetJson, budgetText, summaryJson } from '../../cli/budget-view.js';
import { takeHold, type HoldRequest } from '../../cli/commands/hold.js';
import { withBudgetReasons } from '../../cli/commands/status.js';
import { readRunnerConfigFile } from '../../cli/runner-config.js';
import { maxConcurrentAttempts } from '../../cli/demo-progress.js';
import { BudgetStore, type BudgetSnapshot } from '../../core/budget/budget-store.js';
import { parsePolicy } from '../../core/budget/policy.js';
import { emptyGate, type GrantRecord } from '../../core/budget/records.js';
import { toJsonBuffer } from '../../core/coordination/coordinator.js';
import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { zkPaths } from '../../core/coordination/zk-paths.js';
import { BudgetRefusedError } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import type { NodeRecord, TaskRecord } from '../../core/task/task.js';
import { TaskStore } from '../../core/task/task-store.js';
import { waitUntil } from '../support/wait-until.js';

const C = 'cassandra:geo';
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function hold(node: string, over: Partial<HoldRequest> = {}): HoldRequest {
  return { cluster: C, node, reason: 'disk swap', ttlMs: undefined, zone: undefined, priority: 'normal', now: false, timeoutMs: undefined, by: 'ana@ops', ...over };
}

function grant(over: Partial<GrantRecord>): GrantRecord {
  return {
    node: 'n1',
    zone: 'a',
    kind: 'task',
    task_id: 't-1',
    exclusive: false,
    priority: 'normal',
    token: 1,
    granted_at: '2026-11-30T10:00:00.000Z',
    by: 'n1',
    reason: undefined,
    expires_at: undefined,
    request: 'req-0000000001',
    dead: undefined,
    ...over,
  };
}

describe('budget CLI (in-memory coordinator)', function () {
  let zk: MemoryCoordinatorStore;
  let budget: BudgetStore;
  const lines: string[] = [];
  const ctx = { err: (l: string) => void lines.push(l), logger: silentLogger };

  beforeEach(async function () {
    zk = new MemoryCoordinatorStore();
    budget = new BudgetStore(zk.session(), zkPaths('/t'));
    await budget.initCluster(C);
    lines.length = 0;
  });
  afterEach(async function () {
    await zk.stop();
  });

  it('hold is granted with no runner of the cluster live (the command stands as keeper), and leaves no keeper behind', async function () {
    const g = await takeHold(budget, hold('n1', { ttlMs: 4 * 3_600_000 }), ctx);
    assert.equal(g.kind, 'hold');
    assert.equal(g.node, 'n1');
    assert.equal(g.by, 'ana@ops');
    assert.equal(g.reason, 'disk swap');
    assert.ok(g.expires_at && Date.parse(g.expires_at) - Date.parse(g.granted_at) === 4 * 3_600_000, JSON.stringify(g));
    assert.equal((await budget.getGrant(C, 'n1'))?.value.token, g.token);
    assert.deepEqual(await budget.requests(C), []);
    assert.deepEqual(await budget.coordinator.children(budget.paths.keepers(C)), []);
    assert.ok(lines.some((l) => /no runner has registered n1/.test(l)), lines.join('\n'));
  });

  it('hold --now on a full budget is refused with the keeper\'s reason, and the request is withdrawn', async function () {
    await budget.applyPolicy(parsePolicy({ cluster: C, budget: 1 }), 'test');
    await takeHold(budget, hold('n1'), ctx);
    await assert.rejects(takeHold(budget, hold('n2', { now: true }), ctx), (err: unknown) => {
      assert.ok(err instanceof BudgetRefusedError, String(err));
      assert.match(err.message, /^cannot hold n2 of cassandra:geo now: cluster budget: 1 of 1 disrupted \(n1\)$/);
      return true;
    });
    assert.equal(await budget.getGrant(C, 'n2'), undefined);
    assert.deepEqual(await budget.requests(C), []);
  });

  it('hold --now on a node busy with another hold says who holds it', async function () {
    await takeHold(budget, hold('n1', { by: 'bob@ops', reason: 'kernel patch' }), ctx);
    await assert.rejects(takeHold(budget, hold('n1', { now: true }), ctx), /cannot hold n1 of cassandra:geo now: node n1 is held by bob@ops \(kernel patch\)/);
  });

  it('a hold waits, visibly, until the budget has room, then gets its grant', async function () {
    await budget.applyPolicy(parsePolicy({ cluster: C, budget: 1 }), 'test');
    await takeHold(budget, hold('n1'), ctx);
    const second = takeHold(budget, hold('n2'), ctx);
    const entry = await waitUntil('the keeper to say why n2 waits', async () => (await budget.getGate(C)).value.waiting.find((w) => w.node === 'n2'));
    assert.equal(entry.blocked_by, 'budget');
    await waitUntil('hold to print the reason', async () => lines.some((l) => l === 'waiting (budget): cluster budget: 1 of 1 disrupted (n1)'));
    assert.equal(await budget.getGrant(C, 'n2'), undefined);
    await budget.releaseGrant(C, 'n1', { by: 'ana@ops', reason: 'done', kind: 'released' });
    const g = await second;
    assert.equal(g.node, 'n2');
    const ev = await budget.events(C);
    assert.deepEqual(ev.map((e) => [e.kind, e.node, e.by, e.reason]), [['released', 'n1', 'ana@ops', 'done']]);
  });

  it('an interrupted hold withdraws its request', async function () {
    await budget.applyPolicy(parsePolicy({ cluster: C, budget: 1 }), 'test');
    await takeHold(budget, hold('n1'), ctx);
    const ac = new AbortController();
    const p = takeHold(budget, hold('n2'), ctx, ac.signal);
    await waitUntil('the request of n2', async () => (await budget.requests(C)).some((r) => r.node === 'n2'));
    ac.abort();
    await assert.rejects(p, /gave up waiting for a grant/);
    assert.deepEqual(await budget.requests(C), []);
  });

  it('budget --json: numbers, grants with their runner, flags past return_grace, waiting in order with why', function () {
    const now = Date.parse('2026-11-30T10:30:00.000Z');
    const snap: BudgetSnapshot = {
      cluster: C,
      policy: { ...parsePolicy({ cluster: C, budget: 2, zone_budget: 1, return_grace: '15m' }), applied_by: 'ana@ops', applied_at: '2026-11-30T09:00:00.000Z', version: 2 },
      gate: {
        ...emptyGate(),
        absent_since: { n1: '2026-11-30T10:05:00.000Z' },
        waiting: [{ request: 'req-0000000007', node: 'n4', task_id: 't-2', kind: 'task', priority: 'normal', blocked_by: 'budget', reason: 'cluster budget: 2 of 2 disrupted (n1, n3)', since: '2026-11-30T10:20:00.000Z' }],
        health: { check: 'ring-healthy', ok: true, at: '2026-11-30T10:29:00.000Z', detail: 'passed', by: 'n2' },
        keeper: { by: 'n2', since: '2026-11-30T09:00:00.000Z' },
      },
      grants: [grant({ node: 'n1', zone: 'a', token: 5 }), grant({ node: 'n3', zone: 'c', kind: 'hold', task_id: undefined, by: 'bob@ops', reason: 'disk swap', token: 6, granted_at: '2026-11-30T10:10:00.000Z' })],
      requests: [{ name: 'req-0000000007', seq: 7, node: 'n4', zone: 'c', kind: 'task', task_id: 't-2', limit: 2, exclusive: false, priority: 'normal', requested_at: '2026-11-30T10:20:00.000Z', by: 'n4', reason: undefined, ttl_ms: undefined }],
      known: ['a', 'b', 'c'].flatMap((z, i) => [`n${i + 1}`, `n${i + 4}`].map((n) => ({ node: n, zone: z, first_seen: '2026-11-30T08:00:00.000Z', last_seen: '2026-11-30T08:00:00.000Z' }))),
      live: ['n2', 'n3', 'n4', 'n5', 'n6'],
      decision: { grant: [], waiting: [], waiting_total: 0, bypass: {}, disrupted: ['n1', 'n3'], unavailable: [], budget: 2 },
      events: [{ at: '2026-11-30T10:01:00.000Z', kind: 'released', node: 'n5', task_id: undefined, by: 'ana@ops', reason: 'stuck' }],
    };
    const j = budgetJson(snap, now);
    assert.equal(j.budget, 2);
    assert.equal(j.zone_budget, 1);
    assert.equal(j.headroom, 0);
    assert.deepEqual(j.disrupted, ['n1', 'n3']);
    assert.deepEqual(j.zones, [
      { zone: 'a', nodes: 2, disrupted: 1, zone_budget: 1 },
      { zone: 'b', nodes: 2, disrupted: 0, zone_budget: 1 },
      { zone: 'c', nodes: 2, disrupted: 1, zone_budget: 1 },
    ]);
    const [g1, g3] = j.grants;
    assert.deepEqual(
      { live: g1?.runner_live, absent: g1?.absent_since, flagged: g1?.flagged, held: g1?.held_ms },
      { live: false, absent: '2026-11-30T10:05:00.000Z', flagged: true, held: 30 * 60_000 },
    );
    assert.deepEqual({ kind: g3?.kind, by: g3?.by, reason: g3?.reason, flagged: g3?.flagged, task: g3?.task_id }, { kind: 'hold', by: 'bob@ops', reason: 'disk swap', flagged: false, task: null });
    assert.deepEqual(j.waiting.map((w) => [w.position, w.node, w.blocked_by, w.reason]), [[1, 'n4', 'budget', 'cluster budget: 2 of 2 disrupted (n1, n3)']]);
    assert.equal(j.events[0]?.task_id, null);
    assert.match(j.at, ISO_MS);
    // Every key is snake_case, all the way down.
    const keys = (v: unknown): string[] => (v && typeof v === 'object' ? Object.entries(v).flatMap(([k, x]) => [...(Array.isArray(v) ? [] : [k]), ...keys(x)]) : []);
    for (const k of keys(j)) assert.match(k, /^[a-z0-9_]+$/, k);

    const text = budgetText(j, now);
    assert.match(text, /^cluster cassandra:geo: 2 of 2 disrupted \(headroom 0\); 2 grant\(s\), 1 waiting; nodes 6 known, 5 live$/m);
    assert.match(text, /^n1 +a +task t-1 .* 5 +GONE +FLAGGED: runner gone since 2026-11-30T10:05:00.000Z, past return_grace/m);
    assert.match(text, /^n3 +c +hold bob@ops .* 6 +- +"disk swap"$/m);
    assert.match(text, /^1 +n4 +task t-2 +normal .* budget +cluster budget: 2 of 2 disrupted \(n1, n3\)$/m);
    assert.match(text, /health: ring-healthy OK at 2026-11-30T10:29:00.000Z/);
    assert.deepEqual(summaryJson(j), { cluster: C, budget: 2, disrupted: 2, grants: 2, holds: 1, dead: 0, flagged: 1, waiting: 1, health_ok: true, keeper: 'n2' });
  });

  it('status shows the keeper\'s reason for a node waiting for its grant, and keeps the runner\'s other reasons', async function () {
    const store = new TaskStore(budget.coordinator, '/t');
    await budget.coordinator.set(
      budget.paths.gate(C),
      toJsonBuffer({
        ...emptyGate(),
        waiting: [
          { request: 'req-1', node: 'n2', task_id: 't-1', kind: 'task', priority: 'normal', blocked_by: 'health', reason: 'cluster health: ring-healthy exited 1: UN 5/6', since: '2026-11-30T10:00:00.000Z' },
          { request: 'req-2', node: 'n3', task_id: 't-other', kind: 'task', priority: 'normal', blocked_by: 'budget', reason: 'cluster budget: 2 of 2', since: '2026-11-30T10:00:00.000Z' },
        ],
      }),
      -1,
    );
    const t = { taskId: 't-1', spec: { cluster: C } } as unknown as TaskRecord;
    const node = (n: string, reason: string | undefined): NodeRecord => ({ node: n, state: 'WAITING', attempts: 0, updatedAt: '', reason, history: [] });
    const out = await withBudgetReasons(store, t, [
      node('n2', 'waiting for a grant from the cluster budget (`taskerman budget <cluster>` shows why)'),
      node('n3', 'waiting for a grant from the cluster budget (`taskerman budget <cluster>` shows why)'),
      node('n4', 'task paused by bob'),
    ]);
    assert.deepEqual(out.map((n) => n.reason), [
      'waiting: cluster health: ring-healthy exited 1: UN 5/6',
      // n3's entry is another task's request: not this task's reason.
      'waiting for a grant from the cluster budget (`taskerman budget <cluster>` shows why)',
      'task paused by bob',
    ]);
  });

  it('the example runner config has a zone and health checks that validate', function () {
    const c = readRunnerConfigFile('examples/runner-config.yaml');
    assert.match(c.zone ?? '', /^[a-z0-9-]+$/);
    assert.ok(c.checks && Object.keys(c.checks).length > 0, JSON.stringify(c.checks));
    for (const def of Object.values(c.checks)) assert.ok(def.argv[0]?.startsWith('/'), JSON.stringify(def));
  });

  it('counts the nodes inside an action at once from the attempt times (a handoff at the same ms is not an overlap)', function () {
    const n = (node: string, spans: Array<[string, string | undefined]>): NodeRecord => ({
      node,
      state: 'SUCCEEDED',
      attempts: spans.length,
      updatedAt: '',
      history: spans.map(([s, e], i) => ({ attempt: i + 1, startedAt: `2026-11-30T10:00:0${s}Z`, ...(e ? { endedAt: `2026-11-30T10:00:0${e}Z` } : {}), interrupted: false })),
    });
    assert.equal(maxConcurrentAttempts([[n('a', [['0.000', '1.000']]), n('b', [['1.000', '2.000']])]]), 1);
    assert.equal(maxConcurrentAttempts([[n('a', [['0.000', '1.500']])], [n('b', [['1.000', '2.000']]), n('c', [['1.200', undefined]])]]), 3);
    assert.equal(maxConcurrentAttempts([]), 0);
  });
});
