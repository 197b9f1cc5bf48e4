// A plan: what a task would do, without enqueuing anything — its resolved targets, its limit and failure
// budget as numbers, which targets have a live runner, and the cluster budget it would draw from (policy,
// grants held now, nodes unavailable, requests waiting).
import { resolveTargets, type DiscoveryMap } from './discovery.js';
import { BudgetStore } from '../budget/budget-store.js';
import { Membership } from '../coordination/membership.js';
import { resolveLimit, type TaskSpec } from '../task/task-spec.js';
import type { TaskStore } from '../task/task-store.js';

export interface PlanBudget {
  /** The policy's budget in nodes (undefined: no policy, the tasks' limits alone govern). */
  budget: number | undefined;
  zoneBudget: number | undefined;
  healthCheck: string | undefined;
  /** Nodes disrupted now: granted (to any task or hold) or known and without a live runner. */
  disrupted: string[];
  grants: Array<{ node: string; taskId: string | undefined; kind: 'task' | 'hold'; dead: boolean }>;
  waiting: number;
  /** How many nodes of this task could start now: min(limit, budget) minus the disrupted ones. */
  headroom: number;
}

export interface Plan {
  cluster: string;
  action: string;
  discovery: string;
  targets: string[];
  limit: number;
  maxFailures: number;
  live: string[];
  notLive: string[];
  budget: PlanBudget;
}

export async function planTask(spec: TaskSpec, discovery: DiscoveryMap, store: TaskStore): Promise<Plan> {
  const targets = await resolveTargets(spec, discovery);
  const members = new Set((await new Membership(store.coordinator, store.paths).list(spec.cluster)).map((m) => m.node));
  const snap = await new BudgetStore(store.coordinator, store.paths).inspect(spec.cluster);
  const limit = resolveLimit(spec.limit, targets.length);
  const cap = Math.min(limit, snap.decision.budget ?? Infinity);
  const disrupted = new Set([...snap.grants.map((g) => g.node), ...snap.decision.unavailable.map((u) => u.node)]);
  return {
    cluster: spec.cluster,
    action: spec.action,
    discovery: spec.discovery,
    targets,
    limit,
    maxFailures: resolveLimit(spec.maxFailures, targets.length),
    live: targets.filter((t) => members.has(t)),
    notLive: targets.filter((t) => !members.has(t)),
    budget: {
      budget: snap.decision.budget,
      zoneBudget: snap.policy?.zoneBudget,
      healthCheck: snap.policy?.health?.check,
      disrupted: [...disrupted].sort(),
      grants: snap.grants.map((g) => ({ node: g.node, taskId: g.task_id, kind: g.kind, dead: Boolean(g.dead) })),
      waiting: snap.requests.length,
      headroom: Math.max(0, cap - disrupted.size),
    },
  };
}

export function planText(p: Plan): string {
  const b = p.budget;
  const lines = [
    `${p.action} on ${p.cluster} (discovery ${p.discovery}): ${p.targets.length} target(s), limit ${p.limit}, max_failures ${p.maxFailures}`,
    `  targets:      ${p.targets.join(', ')}`,
    `  live runners: ${p.live.length}/${p.targets.length}${p.notLive.length ? ` (no live runner: ${p.notLive.join(', ')})` : ''}`,
    `  budget:       ${b.budget === undefined ? 'no cluster policy (the tasks\' limits alone, shared by every task)' : `${b.budget} node(s) of ${p.cluster} at once`}${b.zoneBudget ? `, ${b.zoneBudget} per zone` : ''}${b.healthCheck ? `, gated on health check ${b.healthCheck}` : ''}`,
    `  disrupted now: ${b.disrupted.length ? b.disrupted.join(', ') : 'none'}${b.grants.length ? ` (grants: ${b.grants.map((g) => `${g.node} ${g.kind === 'hold' ? 'hold' : `task ${g.taskId}`}${g.dead ? ' DEAD' : ''}`).join(', ')})` : ''}${b.waiting ? `; ${b.waiting} request(s) waiting` : ''}`,
    `  could start now: ${b.headroom} node(s)`,
  ];
  lines.push('nothing was enqueued (plan only)');
  return lines.join('\n');
}
