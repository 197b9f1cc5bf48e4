// A read-only view of who is disrupting each cluster now: the nodes holding a grant of the cluster's budget
// (core/budget/), the requests waiting in the order the keeper will serve them, the live runners, the budget
// and the last health-gate result. The metrics (grants held and waiting, the oldest grant), the "grant held
// past its grace" notification and the web view all read it from here, so they agree.
import { BudgetStore } from '../budget/budget-store.js';
import type { HealthResult } from '../budget/records.js';
import type { TaskStore } from '../task/task-store.js';

export interface Grant {
  node: string;
  /** The task holding (or asking for) the node; `hold:<who>` for a person's hold. */
  taskId: string;
  kind: 'task' | 'hold';
  /** The fencing token of the grant (0 for a request not granted yet). */
  token: number;
  /** When it was granted (held) or asked for (waiting). */
  since: string;
  /** The node's attempts are spent: it keeps its grant until released. */
  dead: boolean;
  /** Why a request waits (the keeper's words), or why a hold was taken. */
  reason: string | undefined;
}

export interface ClusterGrants {
  cluster: string;
  held: Grant[];
  /** In the order they will be served. */
  waiting: Grant[];
  /** Live runners of the cluster. */
  members: string[];
  /** The policy's budget in nodes (undefined: no policy; the tasks' limits alone). */
  budget: number | undefined;
  /** The last health-gate result, if the policy has a gate. */
  health: HealthResult | undefined;
}

/** Every cluster with a budget folder (a runner registered, a policy, a grant). */
export async function listClusters(store: TaskStore): Promise<string[]> {
  return new BudgetStore(store.coordinator, store.paths).clusters();
}

export async function readClusterGrants(store: TaskStore, cluster: string): Promise<ClusterGrants> {
  const snap = await new BudgetStore(store.coordinator, store.paths).inspect(cluster);
  const why = new Map(snap.gate.waiting.map((w) => [w.request, w.reason]));
  return {
    cluster,
    held: snap.grants
      .map((g) => ({ node: g.node, taskId: g.task_id ?? `hold:${g.by}`, kind: g.kind, token: g.token, since: g.granted_at, dead: Boolean(g.dead), reason: g.kind === 'hold' ? g.reason : g.dead?.reason }))
      .sort((a, b) => a.since.localeCompare(b.since) || a.token - b.token),
    waiting: snap.requests.map((r) => ({ node: r.node, taskId: r.task_id ?? `hold:${r.by}`, kind: r.kind, token: 0, since: r.requested_at, dead: false, reason: why.get(r.name) })),
    members: snap.live,
    budget: snap.decision.budget,
    health: snap.gate.health,
  };
}

export async function readAllGrants(store: TaskStore): Promise<ClusterGrants[]> {
  const out: ClusterGrants[] = [];
  for (const cluster of await listClusters(store)) out.push(await readClusterGrants(store, cluster));
  return out;
}
