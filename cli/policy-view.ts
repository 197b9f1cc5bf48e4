// How a cluster policy looks to a human and to a script (snake_case, durations in ms, ISO-8601 times), and
// what applying one changes, field by field.
import type { BudgetSnapshot } from '../core/budget/budget-store.js';
import type { BudgetLimit, ClusterPolicy } from '../core/budget/policy.js';
import { formatDuration } from '../core/duration.js';

export type StoredPolicy = NonNullable<BudgetSnapshot['policy']>;

export interface PolicyJson {
  cluster: string;
  /** A number of nodes, or a percentage of the cluster's known nodes as written ("10%"); null: no cluster cap. */
  budget: number | string | null;
  zone_budget: number | null;
  health: { check: string; timeout_ms: number; interval_ms: number } | null;
  return_grace_ms: number;
  ageing_ms: number;
  applied_by: string | null;
  applied_at: string | null;
  version: number | null;
}

export const budgetText = (b: BudgetLimit | undefined): string => (b === undefined ? '-' : b.kind === 'count' ? String(b.value) : `${b.value}%`);

export function policyJson(p: ClusterPolicy & Partial<Pick<StoredPolicy, 'applied_by' | 'applied_at' | 'version'>>): PolicyJson {
  return {
    cluster: p.cluster,
    budget: p.budget === undefined ? null : p.budget.kind === 'count' ? p.budget.value : `${p.budget.value}%`,
    zone_budget: p.zoneBudget ?? null,
    health: p.health ? { check: p.health.check, timeout_ms: p.health.timeoutMs, interval_ms: p.health.intervalMs } : null,
    return_grace_ms: p.returnGraceMs,
    ageing_ms: p.ageingMs,
    applied_by: p.applied_by ?? null,
    applied_at: p.applied_at ?? null,
    version: p.version ?? null,
  };
}

/** The fields of a policy as an operator reads them, in the order of the file. */
function fields(p: ClusterPolicy): Array<[string, string]> {
  return [
    ['budget', p.budget === undefined ? '- (no cluster cap: each task\'s limit, shared by every task)' : budgetText(p.budget)],
    ['zone_budget', p.zoneBudget === undefined ? '-' : String(p.zoneBudget)],
    ['health', p.health ? `${p.health.check} (timeout ${formatDuration(p.health.timeoutMs)}, re-checked every ${formatDuration(p.health.intervalMs)} while closed)` : '-'],
    ['return_grace', formatDuration(p.returnGraceMs)],
    ['ageing', formatDuration(p.ageingMs)],
  ];
}

export function policyText(p: StoredPolicy): string {
  const head = `${p.cluster}  (version ${p.version}${p.applied_by ? `, applied by ${p.applied_by}` : ''}${p.applied_at ? ` at ${p.applied_at}` : ''})`;
  return [head, ...fields(p).map(([k, v]) => `  ${`${k}:`.padEnd(14)}${v}`)].join('\n');
}

export interface PolicyChange {
  field: string;
  from: string;
  to: string;
}

/** What applying `next` over `current` changes (empty: nothing; every field when there was no policy). */
export function policyChanges(current: ClusterPolicy | undefined, next: ClusterPolicy): PolicyChange[] {
  const before = new Map(current ? fields(current) : []);
  return fields(next)
    .filter(([k, v]) => before.get(k) !== v)
    .map(([k, v]) => ({ field: k, from: before.get(k) ?? '(none)', to: v }));
}
