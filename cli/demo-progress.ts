// Following several tasks of one cluster at once, as `taskerman dev --demo` shows two tasks sharing one
// budget: one progress line per change with each task's bar and running nodes, and the cluster's disrupted
// nodes against its budget. Afterwards, the most nodes that were inside an action at the same moment, from
// the node records' attempt times (not from sampling), so the demo's claim is checked, not assumed.
import type { BudgetStore } from '../core/budget/budget-store.js';
import { delay } from '../core/delay.js';
import { FINAL_TASK_STATES, type NodeRecord } from '../core/task/task.js';
import type { TaskStore } from '../core/task/task-store.js';
import { countStates } from './status-view.js';
import type { WaitResult } from './wait.js';

export interface Followed {
  taskId: string;
  label: string;
}

const POLL_MS = 100;

/** The largest number of distinct nodes inside an attempt at the same instant, over all the tasks' records. */
export function maxConcurrentAttempts(nodesOfTasks: NodeRecord[][]): number {
  const edges: Array<[number, number]> = [];
  for (const nodes of nodesOfTasks) {
    for (const n of nodes) {
      for (const a of n.history) {
        const start = Date.parse(a.startedAt);
        const end = a.endedAt ? Date.parse(a.endedAt) : Number.POSITIVE_INFINITY;
        edges.push([start, 1], [end, -1]);
      }
    }
  }
  // An end and a start at the same millisecond: the end first (the grant was handed on, not shared).
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let max = 0;
  for (const [, d] of edges) {
    cur += d;
    max = Math.max(max, cur);
  }
  return max;
}

function bar(nodes: NodeRecord[], width = 12): string {
  const c = countStates(nodes);
  const done = c.SUCCEEDED + c.DEAD + c.SKIPPED;
  const filled = nodes.length ? Math.round((done / nodes.length) * width) : 0;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${nodes.length}`;
}

/** Follows the tasks until every one has ended; undefined if `signal` aborted or `timeoutMs` passed first. */
export async function followTasks(
  store: TaskStore,
  budget: BudgetStore,
  cluster: string,
  tasks: Followed[],
  opts: { out: (line: string) => void; signal?: AbortSignal; timeoutMs?: number },
): Promise<{ results: WaitResult[]; maxConcurrent: number; maxGrants: number } | undefined> {
  const started = Date.now();
  let last = '';
  let maxGrants = 0;
  while (!opts.signal?.aborted) {
    if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) return undefined;
    const [grants, snaps] = await Promise.all([
      budget.grants(cluster),
      Promise.all(tasks.map(async (t) => ({ t, rec: await store.getTask(t.taskId), nodes: await store.listNodes(t.taskId) }))),
    ]);
    maxGrants = Math.max(maxGrants, grants.length);
    const policy = await budget.getPolicy(cluster);
    const cap = policy?.budget ? (policy.budget.kind === 'count' ? String(policy.budget.value) : `${policy.budget.value}%`) : '-';
    const parts = snaps.map(({ t, nodes }) => {
      const running = nodes.filter((n) => n.state === 'STARTED').map((n) => n.node);
      const waiting = nodes.filter((n) => n.state === 'WAITING' || n.state === 'QUEUED').length;
      return `${t.label} ${bar(nodes)} running ${running.join(',') || '-'}, waiting ${waiting}`;
    });
    const line = `${parts.join(' | ')} | disrupted ${grants.length}/${cap}: ${grants.map((g) => g.node).sort().join(',') || '-'}`;
    // Nothing to show until the router has recorded the tasks' nodes.
    if (line !== last && snaps.some((x) => x.nodes.length > 0)) {
      last = line;
      opts.out(`${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s ${line}`);
    }
    const results: WaitResult[] = [];
    for (const { rec, nodes } of snaps) {
      if (rec && FINAL_TASK_STATES.includes(rec.value.state) && !nodes.some((n) => n.state === 'STARTED' || n.state === 'WAITING' || n.state === 'FAILED')) results.push({ task: rec.value, nodes });
    }
    if (results.length === snaps.length) {
      return { results, maxConcurrent: maxConcurrentAttempts(results.map((r) => r.nodes)), maxGrants };
    }
    await delay(POLL_MS, opts.signal);
  }
  return undefined;
}
