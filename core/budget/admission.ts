// The admission rule of a cluster's disruption budget, as a pure function of what ZooKeeper holds: which
// waiting requests get a grant now, and why each of the others waits. The keeper (keeper.ts) runs it and
// writes its grants in one transaction guarded on the gate's version.
//
// A node is *disrupted* when it holds a grant, or when it is known to the cluster and has no live runner (down
// for another reason: crashed, rebooting, being repaired). A request for node n is admitted when, with n
// counted in:
//   - the disrupted nodes are at most the policy's budget, and at most the task's own `limit`;
//   - the disrupted nodes of n's zone are at most the policy's zone_budget;
//   - no other task holding a grant is exclusive, and, if this task is exclusive, no other task holds one;
//   - n holds no grant (one task per node at a time) — and the health gate is open (checked by the keeper).
//
// Order: by priority (high, normal, low), raised one level per `ageing` waited, then first come first served.
// A request held back by the cluster budget (or an exclusive task) stops everything behind it: the budget is
// served in order. One held back only by its zone or by its own task's limit does not hold up the ones behind
// it; but each time a later request is granted past it, it counts a bypass, and at MAX_BYPASS it becomes a
// barrier: nothing behind it is granted until it is. Grants are finite (every one ends in a release), so the
// disrupted set drains until the barrier fits: no request starves.
import { resolveBudget, type ClusterPolicy } from './policy.js';
import type { GrantRecord, KnownNodeRecord, Request, WaitingEntry } from './records.js';
import type { Priority } from '../task/task-spec.js';

export const MAX_BYPASS = 3;
const RANK: Record<Priority, number> = { high: 0, normal: 1, low: 2 };
const NO_ZONE = '(no zone)';

export interface BudgetView {
  policy: ClusterPolicy | undefined;
  grants: GrantRecord[];
  requests: Request[];
  known: KnownNodeRecord[];
  /** Nodes with a live runner (members). */
  live: ReadonlySet<string>;
  bypass: Readonly<Record<string, number>>;
  now: number;
}

export interface Unavailable {
  node: string;
  why: string;
}

export interface Decision {
  grant: Request[];
  /** The waiting requests in order, with why each waits: every one, or the first `keep` (see decide). */
  waiting: WaitingEntry[];
  /** How many wait, `waiting` or not. */
  waiting_total: number;
  bypass: Record<string, number>;
  /** Disrupted nodes after the grants: granted ones and unavailable ones. */
  disrupted: string[];
  unavailable: Unavailable[];
  /** The budget in nodes (undefined: no policy budget). */
  budget: number | undefined;
}

/** requested_at as a number, parsed once per request object (the keeper keeps its requests across rounds). */
const requestedMs = new WeakMap<object, number>();
function requestedAt(r: Pick<Request, 'requested_at'>): number {
  let t = requestedMs.get(r);
  if (t === undefined) requestedMs.set(r, (t = Date.parse(r.requested_at)));
  return t;
}

/** Effective rank: the request's priority, lifted one level per `ageingMs` waited. */
export function effectiveRank(r: Pick<Request, 'priority' | 'requested_at'>, now: number, ageingMs: number): number {
  const waited = Math.max(0, now - requestedAt(r));
  return Math.max(0, RANK[r.priority] - Math.floor(waited / Math.max(1, ageingMs)));
}

/** How a waiting request is shown (the keeper's gate record, `budget`, `status`). */
export function waitingEntry(r: Request, blocked_by: WaitingEntry['blocked_by'], reason: string): WaitingEntry {
  return { request: r.name, node: r.node, task_id: r.task_id, kind: r.kind, priority: r.priority, blocked_by, reason, since: r.requested_at };
}

export function orderRequests(requests: Request[], now: number, ageingMs: number): Request[] {
  // Each rank computed once, not in every comparison (a round with 1,000 waiters sorts 1,000 of them).
  const rank = new Map(requests.map((r) => [r, effectiveRank(r, now, ageingMs)]));
  return [...requests].sort((a, b) => (rank.get(a) as number) - (rank.get(b) as number) || a.seq - b.seq);
}

/**
 * Applies the rule. With `keep`, only the first `keep` waiting entries are built (the keeper records no more);
 * the others are counted: a round over 1,000 waiters builds 100 reasons, not 1,000.
 */
export function decide(v: BudgetView, ageingMs: number, keep = Infinity): Decision {
  const zoneOf = new Map<string, string>();
  for (const k of v.known) if (k.zone) zoneOf.set(k.node, k.zone);
  for (const g of v.grants) if (g.zone) zoneOf.set(g.node, g.zone);
  for (const r of v.requests) if (r.zone && !zoneOf.has(r.node)) zoneOf.set(r.node, r.zone);
  const zone = (n: string) => zoneOf.get(n) ?? NO_ZONE;

  const granted = new Map(v.grants.map((g) => [g.node, g]));
  const unavailable: Unavailable[] = v.known.filter((k) => !v.live.has(k.node) && !granted.has(k.node)).map((k) => ({ node: k.node, why: `no live runner (last seen ${k.last_seen})` }));
  const disrupted = new Set<string>([...granted.keys(), ...unavailable.map((u) => u.node)]);
  const knownCount = new Set([...v.known.map((k) => k.node), ...v.live]).size;
  const budget = v.policy?.budget ? resolveBudget(v.policy.budget, knownCount) : undefined;
  const zoneBudget = v.policy?.zoneBudget;

  // Exclusive tasks holding grants, and which tasks hold grants at all.
  const holders = new Set(v.grants.map((g) => g.task_id ?? `hold:${g.node}`));
  let exclusiveHolder = v.grants.find((g) => g.exclusive)?.task_id;

  const order = orderRequests(v.requests, v.now, ageingMs);
  const grant: Request[] = [];
  const waiting: WaitingEntry[] = [];
  const passedOver: Request[] = [];
  const bypass: Record<string, number> = {};
  let barrier: string | undefined;
  let waitingTotal = 0;
  const wait = (r: Request, blocked_by: WaitingEntry['blocked_by'], reason: () => string) => {
    if (waitingTotal++ < keep) waiting.push(waitingEntry(r, blocked_by, reason()));
  };
  // Disrupted nodes per zone, kept up to date as this round grants (not recounted for every request).
  const perZone = new Map<string, number>();
  for (const n of disrupted) perZone.set(zone(n), (perZone.get(zone(n)) ?? 0) + 1);
  const zoneCount = (z: string, extra: string) => (perZone.get(z) ?? 0) + (!disrupted.has(extra) && zone(extra) === z ? 1 : 0);
  const names = (ns: Iterable<string>) => {
    const a = [...ns].sort();
    return a.length > 5 ? `${a.slice(0, 5).join(', ')} +${a.length - 5}` : a.join(', ');
  };
  // The disrupted nodes' names, as every waiting reason quotes them: built once per change, not per request.
  let disruptedNames: string | undefined;
  const disruptedList = () => (disruptedNames ??= names(disrupted));

  for (const r of order) {
    const owner = r.task_id ?? `hold:${r.node}`;
    if (barrier) {
      wait(r, 'barrier', () => `queued behind ${barrier}, which has waited long enough to be served first`);
      continue;
    }
    const g = granted.get(r.node);
    if (g) {
      wait(r, 'node_busy', () => g.kind === 'hold' ? `node ${r.node} is held by ${g.by}${g.reason ? ` (${g.reason})` : ''}` : `node ${r.node} is busy with task ${g.task_id}`);
      continue;
    }
    if (exclusiveHolder !== undefined && exclusiveHolder !== r.task_id) {
      wait(r, 'exclusive', () => `exclusive task ${exclusiveHolder} holds the cluster`);
      continue;
    }
    const others = [...holders].filter((h) => h !== owner && h !== r.task_id);
    if (r.exclusive && others.length > 0) {
      wait(r, 'exclusive', () => `exclusive: waiting for ${others.length} other task${others.length === 1 ? '' : 's'} to drain (${names(others)})`);
      barrier = `${r.node} (exclusive task ${r.task_id})`;
      continue;
    }
    const afterSize = disrupted.size + (disrupted.has(r.node) ? 0 : 1);
    if (budget !== undefined && afterSize > budget) {
      wait(r, 'budget', () => `cluster budget: ${disrupted.size} of ${budget} disrupted (${disruptedList()})`);
      barrier = `${r.node}${r.task_id ? ` (task ${r.task_id})` : ' (hold)'}`;
      continue;
    }
    const passed = (v.bypass[r.name] ?? 0) >= MAX_BYPASS;
    if (r.limit !== undefined && afterSize > r.limit) {
      wait(r, 'task_limit', () => `task limit ${r.limit}: ${disrupted.size} of the cluster disrupted (${disruptedList()})`);
      passedOver.push(r);
      if (passed) barrier = `${r.node} (task ${r.task_id})`;
      continue;
    }
    if (zoneBudget !== undefined && zoneCount(zone(r.node), r.node) > zoneBudget) {
      const z = zone(r.node);
      wait(r, 'zone', () => `zone budget: zone ${z} has ${zoneCount(z, r.node) - 1} of ${zoneBudget} disrupted`);
      passedOver.push(r);
      if (passed) barrier = `${r.node} (zone ${z})`;
      continue;
    }
    grant.push(r);
    if (!disrupted.has(r.node)) perZone.set(zone(r.node), (perZone.get(zone(r.node)) ?? 0) + 1);
    disrupted.add(r.node);
    disruptedNames = undefined;
    granted.set(r.node, { node: r.node } as GrantRecord);
    holders.add(owner);
    if (r.exclusive) exclusiveHolder = r.task_id;
  }
  // Count a bypass for every request that a later grant passed over; forget the requests that are gone.
  const position = new Map(order.map((r, i) => [r, i]));
  const lastGranted = Math.max(-1, ...grant.map((r) => position.get(r) as number));
  for (const r of passedOver) {
    const i = position.get(r) as number;
    const n = (v.bypass[r.name] ?? 0) + (lastGranted > i ? 1 : 0);
    if (n > 0) bypass[r.name] = n;
  }
  return { grant, waiting, waiting_total: waitingTotal, bypass, disrupted: [...disrupted].sort(), unavailable, budget };
}
