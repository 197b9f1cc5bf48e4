// How a cluster's budget looks to a human (`taskerman budget <cluster>`) and to a script (--json: snake_case,
// ISO-8601 times with milliseconds, durations in ms): the budget and zone budget as numbers, every grant
// (whose, since when, its runner live or not, flagged when gone past return_grace), the nodes unavailable and
// why, the waiting requests in the order they will be served with what each waits for, the last health
// result and the recent events. Built from a BudgetSnapshot (BudgetStore.inspect); pure, so tests drive it.
import type { BudgetSnapshot } from '../core/budget/budget-store.js';
import { DEFAULT_RETURN_GRACE_MS } from '../core/budget/policy.js';
import type { BudgetEvent, HealthResult, WaitingEntry } from '../core/budget/records.js';
import { formatDuration } from '../core/duration.js';
import { policyJson, type PolicyJson } from './policy-view.js';

const NO_ZONE = '(no zone)';

export interface GrantJson {
  node: string;
  zone: string | null;
  kind: 'task' | 'hold';
  task_id: string | null;
  token: number;
  granted_at: string;
  held_ms: number;
  by: string;
  reason: string | null;
  expires_at: string | null;
  exclusive: boolean;
  priority: string;
  dead: { at: string; reason: string } | null;
  runner_live: boolean;
  /** When the keeper first saw the node's runner gone (counted against return_grace). */
  absent_since: string | null;
  /** Gone longer than the policy's return_grace: look at the node, release the grant if it is not coming back. */
  flagged: boolean;
}

export interface WaitingJson {
  position: number;
  request: string;
  node: string;
  kind: 'task' | 'hold';
  task_id: string | null;
  priority: string;
  requested_at: string;
  by: string;
  /** What it waits for, as the keeper last said; null when the keeper has not looked at it yet. */
  blocked_by: WaitingEntry['blocked_by'] | null;
  reason: string;
}

export interface BudgetJson {
  cluster: string;
  at: string;
  policy: PolicyJson | null;
  /** The budget in nodes now (a percentage resolved against the known nodes); null: no policy budget. */
  budget: number | null;
  zone_budget: number | null;
  known_nodes: number;
  live_nodes: number;
  disrupted: string[];
  /** Nodes that could still be disrupted now under the cluster budget (null: no policy budget). */
  headroom: number | null;
  zones: Array<{ zone: string; nodes: number; disrupted: number; zone_budget: number | null }>;
  grants: GrantJson[];
  unavailable: Array<{ node: string; why: string }>;
  waiting: WaitingJson[];
  health: HealthResult | null;
  keeper: { by: string; since: string } | null;
  gate_updated_at: string | null;
  events: Array<Omit<BudgetEvent, 'task_id'> & { task_id: string | null }>;
}

export function budgetJson(s: BudgetSnapshot, now: number): BudgetJson {
  const live = new Set(s.live);
  const grace = s.policy?.returnGraceMs ?? DEFAULT_RETURN_GRACE_MS;
  const zoneOf = new Map<string, string>();
  for (const k of s.known) if (k.zone) zoneOf.set(k.node, k.zone);
  for (const g of s.grants) if (g.zone) zoneOf.set(g.node, g.zone);
  const zoneNames = [...new Set([...s.known.map((k) => k.node), ...s.grants.map((g) => g.node)].map((n) => zoneOf.get(n) ?? NO_ZONE))].sort();
  const disrupted = s.decision.disrupted.filter((n) => s.grants.some((g) => g.node === n) || s.decision.unavailable.some((u) => u.node === n));
  const gateWaiting = new Map(s.gate.waiting.map((w) => [w.request, w]));
  const nowWaiting = new Map(s.decision.waiting.map((w) => [w.request, w]));
  const nodesOf = (z: string) => [...new Set([...s.known.map((k) => k.node), ...s.grants.map((g) => g.node)])].filter((n) => (zoneOf.get(n) ?? NO_ZONE) === z);
  return {
    cluster: s.cluster,
    at: new Date(now).toISOString(),
    policy: s.policy ? policyJson(s.policy) : null,
    budget: s.decision.budget ?? null,
    zone_budget: s.policy?.zoneBudget ?? null,
    known_nodes: new Set([...s.known.map((k) => k.node), ...s.live]).size,
    live_nodes: s.live.length,
    disrupted,
    headroom: s.decision.budget === undefined ? null : Math.max(0, s.decision.budget - disrupted.length),
    zones: zoneNames.map((z) => ({ zone: z, nodes: nodesOf(z).length, disrupted: disrupted.filter((n) => (zoneOf.get(n) ?? NO_ZONE) === z).length, zone_budget: s.policy?.zoneBudget ?? null })),
    grants: s.grants.map((g) => {
      const absent = g.kind === 'task' && !live.has(g.node) ? (s.gate.absent_since[g.node] ?? null) : null;
      return {
        node: g.node,
        zone: g.zone ?? zoneOf.get(g.node) ?? null,
        kind: g.kind,
        task_id: g.task_id ?? null,
        token: g.token,
        granted_at: g.granted_at,
        held_ms: Math.max(0, now - Date.parse(g.granted_at)),
        by: g.by,
        reason: g.reason ?? null,
        expires_at: g.expires_at ?? null,
        exclusive: g.exclusive,
        priority: g.priority,
        dead: g.dead ?? null,
        runner_live: live.has(g.node),
        absent_since: absent,
        flagged: absent !== null && now - Date.parse(absent) > grace,
      };
    }),
    unavailable: s.decision.unavailable.map((u) => ({ node: u.node, why: u.why })),
    waiting: s.requests.map((r, i) => {
      const w = gateWaiting.get(r.name);
      const fresh = nowWaiting.get(r.name);
      return {
        position: i + 1,
        request: r.name,
        node: r.node,
        kind: r.kind,
        task_id: r.task_id ?? null,
        priority: r.priority,
        requested_at: r.requested_at,
        by: r.by,
        blocked_by: w?.blocked_by ?? fresh?.blocked_by ?? null,
        reason: w?.reason ?? fresh?.reason ?? 'grantable now: waiting for the keeper\'s next round',
      };
    }),
    health: s.gate.health ?? null,
    keeper: s.gate.keeper ?? null,
    gate_updated_at: s.gate.keeper ? s.gate.updated_at : null,
    events: s.events.map((e) => ({ ...e, task_id: e.task_id ?? null })),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}

const ago = (ms: number) => `${formatDuration(Math.max(0, ms))} ago`;

export function budgetText(j: BudgetJson, now: number): string {
  const p = j.policy;
  const policyLine = p
    ? `policy version ${p.version ?? '?'}${p.applied_by ? ` by ${p.applied_by}` : ''}${p.applied_at ? ` at ${p.applied_at}` : ''}: budget ${p.budget ?? '-'}${p.zone_budget !== null ? `, zone_budget ${p.zone_budget}` : ''}${p.health ? `, health ${p.health.check}` : ''}, return_grace ${formatDuration(p.return_grace_ms)}`
    : 'no policy: each task\'s own limit, counted over every task and hold of the cluster';
  const budget = j.budget === null ? 'no cluster budget' : `${j.disrupted.length} of ${j.budget} disrupted (headroom ${j.headroom ?? 0})`;
  const lines = [
    `cluster ${j.cluster}: ${budget}; ${j.grants.length} grant(s), ${j.waiting.length} waiting; nodes ${j.known_nodes} known, ${j.live_nodes} live`,
    `  ${policyLine}`,
  ];
  if (j.zones.length > 1 || j.zone_budget !== null) {
    lines.push(`  zones: ${j.zones.map((z) => `${z.zone} ${z.disrupted}/${z.zone_budget ?? z.nodes}`).join(', ')}${j.zone_budget === null ? ' (disrupted/nodes; no zone budget)' : ' (disrupted/zone budget)'}`);
  }
  if (j.health) lines.push(`  health: ${j.health.check} ${j.health.ok ? 'OK' : 'FAILING (gate closed)'} at ${j.health.at} (${ago(now - Date.parse(j.health.at))}, by ${j.health.by}): ${j.health.detail}`);
  else if (p?.health) lines.push(`  health: ${p.health.check}: not run yet (it runs when a grant is about to be given)`);
  lines.push(`  keeper: ${j.keeper ? `${j.keeper.by} since ${j.keeper.since}` : 'none yet (no runner of this cluster has started)'}`);
  if (j.disrupted.length) lines.push(`  disrupted: ${j.disrupted.join(', ')}`);

  lines.push('', j.grants.length ? 'GRANTS' : 'GRANTS: none');
  if (j.grants.length) {
    const rows = [['NODE', 'ZONE', 'HELD BY', 'SINCE', 'TOKEN', 'RUNNER', 'NOTE']];
    for (const g of j.grants) {
      const holder = g.kind === 'hold' ? `hold ${g.by}` : `task ${g.task_id ?? '?'}`;
      const notes = [
        ...(g.kind === 'hold' && g.reason ? [`"${g.reason}"`] : []),
        ...(g.expires_at ? [`until ${g.expires_at}`] : []),
        ...(g.exclusive ? ['exclusive'] : []),
        ...(g.dead ? [`DEAD since ${g.dead.at}: ${g.dead.reason}`] : []),
        ...(g.flagged ? [`FLAGGED: runner gone since ${g.absent_since}, past return_grace; check the node, \`taskerman release ${j.cluster} --node ${g.node}\` if it is not coming back`] : g.absent_since ? [`runner gone since ${g.absent_since}`] : []),
      ];
      rows.push([g.node, g.zone ?? '-', holder, `${g.granted_at} (${formatDuration(g.held_ms)})`, String(g.token), g.kind === 'hold' ? '-' : g.runner_live ? 'live' : 'GONE', notes.join('; ')]);
    }
    lines.push(table(rows));
  }
  if (j.unavailable.length) {
    lines.push('', 'UNAVAILABLE (counted as disrupted)');
    lines.push(table([['NODE', 'WHY'], ...j.unavailable.map((u) => [u.node, u.why])]));
  }
  lines.push('', j.waiting.length ? `WAITING (${j.waiting.length}, in the order they will be served)` : 'WAITING: none');
  if (j.waiting.length) {
    const rows = [['#', 'NODE', 'FOR', 'PRIORITY', 'SINCE', 'BLOCKED BY', 'REASON']];
    for (const w of j.waiting) {
      rows.push([String(w.position), w.node, w.kind === 'hold' ? `hold ${w.by}` : `task ${w.task_id ?? '?'}`, w.priority, `${w.requested_at} (${formatDuration(Math.max(0, now - Date.parse(w.requested_at)))})`, w.blocked_by ?? '-', w.reason]);
    }
    lines.push(table(rows));
  }
  if (j.events.length) {
    lines.push('', 'RECENT EVENTS');
    lines.push(table(j.events.slice(-10).map((e) => [e.at, e.kind, e.node, e.by, `${e.task_id ? `task ${e.task_id}: ` : ''}${e.reason}`])));
  }
  return lines.join('\n');
}

export interface ClusterSummaryJson {
  cluster: string;
  budget: number | null;
  disrupted: number;
  grants: number;
  holds: number;
  dead: number;
  flagged: number;
  waiting: number;
  health_ok: boolean | null;
  keeper: string | null;
}

export function summaryJson(j: BudgetJson): ClusterSummaryJson {
  return {
    cluster: j.cluster,
    budget: j.budget,
    disrupted: j.disrupted.length,
    grants: j.grants.length,
    holds: j.grants.filter((g) => g.kind === 'hold').length,
    dead: j.grants.filter((g) => g.dead).length,
    flagged: j.grants.filter((g) => g.flagged).length,
    waiting: j.waiting.length,
    health_ok: j.health ? j.health.ok : null,
    keeper: j.keeper?.by ?? null,
  };
}

export function summaryTable(rows: ClusterSummaryJson[]): string {
  return table([
    ['CLUSTER', 'DISRUPTED', 'GRANTS', 'WAITING', 'HEALTH', 'KEEPER'],
    ...rows.map((s) => [
      s.cluster,
      `${s.disrupted}/${s.budget ?? '-'}`,
      `${s.grants}${s.holds || s.dead || s.flagged ? ` (${[s.holds ? `${s.holds} hold` : '', s.dead ? `${s.dead} dead` : '', s.flagged ? `${s.flagged} FLAGGED` : ''].filter(Boolean).join(', ')})` : ''}`,
      String(s.waiting),
      s.health_ok === null ? '-' : s.health_ok ? 'ok' : 'FAILING',
      s.keeper ?? '-',
    ]),
  ]);
}
