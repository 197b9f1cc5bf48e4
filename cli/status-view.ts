// How a task looks to a human (a table) and to a script (JSON with ISO-8601 times), from its records.
import { NODE_STATES, type NodeRecord, type NodeState, type TaskRecord } from '../core/task/task.js';

export interface TaskStatusJson {
  task_id: string;
  state: string;
  reason: string | null;
  action: string;
  cluster: string;
  limit: number;
  max_failures: number;
  emitted_by: string;
  emitted_at: string;
  routed_at: string | null;
  ended_at: string | null;
  /** Set while admission is stopped by `taskerman pause`. */
  paused: { by: string; at: string } | null;
  /** The tombstone of a cancelled task. */
  cancelled: { by: string; at: string } | null;
  /** Set while `taskerman resume` queues a halted task's nodes again (left set if that resume died: run it again). */
  resuming: { by: string; at: string } | null;
  resumed_at: string | null;
  counts: Record<NodeState, number>;
  nodes: Array<{
    node: string;
    state: NodeState;
    attempts: number;
    started_at: string | null;
    ended_at: string | null;
    error: string | null;
    reason: string | null;
    history: NodeRecord['history'];
  }>;
}

export function countStates(nodes: NodeRecord[]): Record<NodeState, number> {
  const counts = Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<NodeState, number>;
  for (const n of nodes) counts[n.state]++;
  return counts;
}

export function statusJson(t: TaskRecord, nodes: NodeRecord[]): TaskStatusJson {
  return {
    task_id: t.taskId,
    state: t.state,
    reason: t.reason ?? null,
    action: String(t.spec.action),
    cluster: String(t.spec.cluster),
    limit: t.limit,
    max_failures: t.maxFailures,
    emitted_by: `${t.emittedBy.kind}:${t.emittedBy.user}`,
    emitted_at: t.emittedAt,
    routed_at: t.routedAt ?? null,
    ended_at: t.endedAt ?? null,
    paused: t.paused ?? null,
    cancelled: t.cancelled ?? null,
    resuming: t.resuming ?? null,
    resumed_at: t.resumedAt ?? null,
    counts: countStates(nodes),
    nodes: nodes.map((n) => ({
      node: n.node,
      state: n.state,
      attempts: n.attempts,
      started_at: n.startedAt ?? null,
      ended_at: n.endedAt ?? null,
      error: n.error ?? null,
      reason: n.reason ?? null,
      history: n.history,
    })),
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}

export function statusText(t: TaskRecord, nodes: NodeRecord[]): string {
  const counts = countStates(nodes);
  const summary = NODE_STATES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`).join(', ');
  const flags = [
    ...(t.paused ? [`PAUSED by ${t.paused.by} at ${t.paused.at}; \`taskerman resume ${t.taskId}\` goes on`] : []),
    ...(t.resuming ? [`being resumed by ${t.resuming.by} since ${t.resuming.at}; if that resume died, run \`taskerman resume ${t.taskId}\` again`] : []),
  ];
  const head = [
    `task ${t.taskId}: ${t.state.toUpperCase()}${t.reason ? ` (${t.reason})` : ''}`,
    ...flags.map((f) => `  ${f}`),
    `  ${t.spec.action} on ${t.spec.cluster}, limit ${t.limit}, max_failures ${t.maxFailures}; emitted by ${t.emittedBy.kind}:${t.emittedBy.user} at ${t.emittedAt}`,
    `  nodes: ${nodes.length}${summary ? ` (${summary})` : ''}`,
  ];
  if (nodes.length === 0) return head.join('\n');
  const rows = [['NODE', 'STATE', 'ATTEMPTS', 'STARTED', 'ENDED', 'DETAIL']];
  for (const n of nodes) {
    rows.push([n.node, n.state, String(n.attempts), n.startedAt ?? '-', n.endedAt ?? '-', n.error ?? n.reason ?? '']);
  }
  return `${head.join('\n')}\n\n${table(rows)}`;
}

/** One progress line: which nodes run, how many are done, how many wait. */
export function progressLine(t: TaskRecord, nodes: NodeRecord[], elapsedMs: number): string {
  const c = countStates(nodes);
  const done = c.SUCCEEDED + c.DEAD + c.SKIPPED;
  const width = 24;
  const filled = nodes.length ? Math.round((done / nodes.length) * width) : 0;
  const running = nodes.filter((n) => n.state === 'STARTED').map((n) => n.node);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const parts = [
    `${(elapsedMs / 1000).toFixed(1).padStart(5)}s ${bar} ${done}/${nodes.length} done`,
    `running (${running.length}/${t.limit}): ${running.join(',') || '-'}`,
    `waiting: ${c.QUEUED + c.WAITING}`,
  ];
  if (c.FAILED) parts.push(`retrying: ${c.FAILED}`);
  if (c.DEAD) parts.push(`dead: ${c.DEAD}`);
  if (c.SKIPPED) parts.push(`skipped: ${c.SKIPPED}`);
  if (t.paused) parts.push(`PAUSED by ${t.paused.by}`);
  return parts.join(' | ');
}
