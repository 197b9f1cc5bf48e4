// The admission rule (core/budget/admission.ts) as a pure function: what a cluster's keeper grants now, and
// why each other request waits. Fairness is proven here over long simulated runs, without clocks or servers.
import assert from 'node:assert/strict';
import { decide, MAX_BYPASS, type BudgetView } from '../../core/budget/admission.js';
import { parsePolicy } from '../../core/budget/policy.js';
import type { GrantRecord, Request } from '../../core/budget/records.js';
import type { Priority } from '../../core/task/task-spec.js';
import { prng } from '../support/prng.js';

const T0 = Date.parse('2026-11-30T00:00:00Z');
let seq = 0;
const req = (node: string, task: string, o: Partial<Request> = {}): Request => ({
  name: `req-${String(seq).padStart(10, '0')}`,
  seq: seq++,
  node,
  zone: undefined,
  kind: 'task',
  task_id: task,
  limit: 2,
  exclusive: false,
  priority: 'normal',
  requested_at: new Date(T0).toISOString(),
  by: node,
  reason: undefined,
  ttl_ms: undefined,
  ...o,
});
const grantOf = (r: Request, token = 1): GrantRecord => ({ node: r.node, zone: r.zone, kind: r.kind, task_id: r.task_id, exclusive: r.exclusive, priority: r.priority, token, granted_at: new Date(T0).toISOString(), by: r.by, reason: undefined, expires_at: undefined, request: r.name, dead: undefined });
const view = (o: Partial<BudgetView>): BudgetView => ({ policy: undefined, grants: [], requests: [], known: [], live: new Set(), bypass: {}, now: T0, ...o });

describe('budget admission rule', () => {
  it('counts every task of the cluster against each task limit, and known nodes without a live runner as disrupted', () => {
    const a = req('n1', 'A');
    const b = req('n2', 'B');
    const held = grantOf(req('n3', 'C'));
    const d = decide(view({ grants: [held], requests: [a, b], live: new Set(['n1', 'n2', 'n3']) }), 60_000);
    assert.deepEqual(d.grant.map((r) => r.node), ['n1'], 'limit 2 with n3 already disrupted: one more');
    assert.match(d.waiting[0]?.reason ?? '', /task limit 2: 2 of the cluster disrupted \(n1, n3\)/);
    const down = decide(view({ requests: [req('n1', 'A', { limit: 1 })], known: [{ node: 'n9', zone: undefined, first_seen: '', last_seen: '2026-11-29T00:00:00.000Z' }], live: new Set(['n1']) }), 60_000);
    assert.deepEqual(down.grant, [], 'n9 is known and has no live runner: it counts as down');
    assert.deepEqual(down.unavailable.map((u) => u.node), ['n9']);
  });

  it('the policy budget is served in order: a request held back by it holds back the ones behind it', () => {
    const policy = parsePolicy({ cluster: 'c', budget: 1 });
    const first = req('n1', 'A', { limit: 5 });
    const second = req('n2', 'B', { limit: 5 });
    const d = decide(view({ policy, grants: [grantOf(req('n3', 'C'))], requests: [first, second] }), 60_000);
    assert.deepEqual(d.grant, []);
    assert.deepEqual(d.waiting.map((w) => w.blocked_by), ['budget', 'barrier']);
  });

  it('a percentage budget rounds down, at least 1, of the known nodes', () => {
    const known = Array.from({ length: 19 }, (_, i) => ({ node: `n${i}`, zone: undefined, first_seen: '', last_seen: '' }));
    const live = new Set(known.map((k) => k.node));
    assert.equal(decide(view({ policy: parsePolicy({ cluster: 'c', budget: '10%' }), known, live }), 1).budget, 1);
    assert.equal(decide(view({ policy: parsePolicy({ cluster: 'c', budget: '20%' }), known, live }), 1).budget, 3);
  });

  it('priority orders waiting requests, and ageing lifts low one level per ageing period', () => {
    const low = req('n1', 'L', { priority: 'low', limit: 1 });
    const high = req('n2', 'H', { priority: 'high', limit: 1 });
    assert.deepEqual(decide(view({ requests: [low, high] }), 60_000).grant.map((r) => r.task_id), ['H']);
    // Two ageing periods later the low request ranks as high, and came first.
    assert.deepEqual(decide(view({ requests: [low, high], now: T0 + 120_000 }), 60_000).grant.map((r) => r.task_id), ['L']);
  });

  it(`a request held back by its own task's limit is passed over at most ${MAX_BYPASS} times, then it is served (no starvation)`, () => {
    // Task S (limit 1) needs the cluster quiet; task W (limit 3) keeps two of its nodes disrupted all the time.
    let bypass: Record<string, number> = {};
    const slow = req('s1', 'S', { limit: 1 });
    let grants: GrantRecord[] = [grantOf(req('w0', 'W', { limit: 3 })), grantOf(req('w1', 'W', { limit: 3 }))];
    let served = -1;
    for (let round = 0; round < 50 && served < 0; round++) {
      // W asks for one more node every round; one of its grants ends every round.
      const w = req(`w${round + 2}`, 'W', { limit: 3 });
      const d = decide(view({ grants, requests: [slow, w], bypass }), 60_000);
      bypass = d.bypass;
      if (d.grant.some((r) => r.task_id === 'S')) served = round;
      grants = [...grants.slice(1), ...d.grant.filter((r) => r.task_id === 'W').map((r) => grantOf(r))];
    }
    assert.ok(served >= 0, 'S was served');
    assert.ok(served <= MAX_BYPASS + 3, `S waited ${served} rounds`);
  });

  it('over a long random run, every request is served, and no grant ever exceeds a limit or the zone budget', () => {
    const rnd = prng(7);
    const policy = parsePolicy({ cluster: 'c', budget: 3, zone_budget: 1, ageing: '1m' });
    const zones = ['a', 'b', 'c'];
    const nodes = Array.from({ length: 12 }, (_, i) => `n${i}`);
    const zoneOf = (n: string) => zones[Number(n.slice(1)) % 3] as string;
    const known = nodes.map((n) => ({ node: n, zone: zoneOf(n), first_seen: '', last_seen: '' }));
    let grants: GrantRecord[] = [];
    let requests: Request[] = [];
    let bypass: Record<string, number> = {};
    const waitedRounds = new Map<string, number>();
    let now = T0;
    let worst = 0;
    for (let round = 0; round < 2000; round++) {
      now += 10_000;
      // New requests for idle nodes, of random priority and limit.
      for (const n of nodes) {
        if (rnd() < 0.05 && !requests.some((r) => r.node === n) && !grants.some((g) => g.node === n)) {
          requests.push(req(n, `t${Math.floor(rnd() * 4)}`, { zone: zoneOf(n), priority: (['high', 'normal', 'low'] as Priority[])[Math.floor(rnd() * 3)], limit: 1 + Math.floor(rnd() * 3), requested_at: new Date(now).toISOString() }));
        }
      }
      const d = decide(view({ policy, grants, requests, known, live: new Set(nodes), bypass, now }), policy.ageingMs);
      bypass = d.bypass;
      for (const r of d.grant) {
        grants.push(grantOf(r));
        const disrupted = grants.length;
        assert.ok(disrupted <= 3, 'budget');
        assert.ok(disrupted <= (r.limit ?? Infinity), `limit of ${r.task_id}`);
        assert.ok(grants.filter((g) => zoneOf(g.node) === zoneOf(r.node)).length <= 1, 'zone budget');
        worst = Math.max(worst, waitedRounds.get(r.name) ?? 0);
      }
      requests = requests.filter((r) => !d.grant.includes(r));
      for (const r of requests) waitedRounds.set(r.name, (waitedRounds.get(r.name) ?? 0) + 1);
      // Grants end after a random time.
      grants = grants.filter(() => rnd() > 0.3);
    }
    const stuck = requests.filter((r) => (waitedRounds.get(r.name) ?? 0) > 200);
    assert.deepEqual(stuck.map((r) => r.name), [], 'nothing waits forever');
    assert.ok(worst < 200, `the longest wait was ${worst} rounds`);
  });

  it('exclusive: the first other task to hold a grant keeps an exclusive request waiting, and the exclusive one then keeps the others out', () => {
    const ex = req('n1', 'X', { exclusive: true, limit: 3 });
    const other = req('n2', 'B', { limit: 3 });
    const waitDrain = decide(view({ grants: [grantOf(req('n3', 'A'))], requests: [ex, other] }), 60_000);
    assert.deepEqual(waitDrain.grant, []);
    assert.deepEqual(waitDrain.waiting.map((w) => w.blocked_by), ['exclusive', 'barrier']);
    const holds = decide(view({ grants: [grantOf(ex)], requests: [other, req('n4', 'X', { exclusive: true, limit: 3 })] }), 60_000);
    assert.deepEqual(holds.grant.map((r) => r.task_id), ['X'], 'its own nodes go on; the other task waits');
    assert.equal(holds.waiting[0]?.blocked_by, 'exclusive');
  });

  it('one task per node: a node held by one task or a hold is busy for every other request', () => {
    const hold = { ...grantOf(req('n1', 'H')), kind: 'hold' as const, task_id: undefined, by: 'alice@host', reason: 'disk swap' };
    const d = decide(view({ grants: [hold], requests: [req('n1', 'A', { limit: 5 })] }), 60_000);
    assert.match(d.waiting[0]?.reason ?? '', /node n1 is held by alice@host \(disk swap\)/);
  });
});
