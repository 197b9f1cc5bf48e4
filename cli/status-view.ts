// How a task looks to a human (a summary, then a table) and to a script (JSON: `taskerman schema --output
// status`), from its records. A task with many nodes gets its summary only (counts by state, which nodes run,
// how many wait, failures grouped by reason) unless the node table is asked for (--nodes / --state).
import { NODE_STATES, type AttemptRecord, type NodeRecord, type NodeState, type TaskRecord } from '../core/task/task.js';
import { paint, paintState } from './output/colour.js';
import { msBetween, toIso } from './output/json-time.js';
import type { OutputOf } from './output/outputs.js';
import { humanDuration, table } from './output/table.js';

export type TaskStatusJson = OutputOf<'status'>;

/** Above this many nodes, `status` prints the summary and leaves the node table to --nodes. */
export const BIG_TASK_NODES = 50;
/** How many node names a summary line lists before it says "and N more". */
const NAMES_SHOWN = 10;

const INTERRUPTED = 'interrupted:';

export function countStates(nodes: NodeRecord[]): Record<NodeState, number> {
  const counts = Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<NodeState, number>;
  for (const n of nodes) counts[n.state]++;
  return counts;
}

const iso = (t: string | undefined): string | null => toIso(t);
const isoReq = (t: string): string => toIso(t) ?? t;
const actor = (a: { by: string; at: string } | undefined) => (a ? { by: a.by, at: isoReq(a.at) } : null);

function attemptJson(h: AttemptRecord) {
  return {
    attempt: h.attempt,
    started_at: isoReq(h.startedAt),
    ended_at: iso(h.endedAt),
    duration_ms: msBetween(h.startedAt, h.endedAt),
    error: h.error ?? null,
    counted: h.counted ?? true,
    interrupted: h.error?.startsWith(INTERRUPTED) ?? false,
    fencing_token: h.fencingToken ?? null,
  };
}

/** The last attempt's duration; so far while it runs (now - start). */
function nodeDurationMs(n: NodeRecord, now: Date): number | null {
  const last = n.history[n.history.length - 1];
  const start = last?.startedAt ?? n.startedAt;
  const end = last ? last.endedAt : n.endedAt;
  if (!start) return null;
  if (!end) return n.state === 'STARTED' ? msBetween(start, now.toISOString()) : null;
  return msBetween(start, end);
}

/** DEAD and FAILED nodes grouped by their error, biggest group first. */
export function groupFailures(nodes: NodeRecord[]): Array<{ reason: string; nodes: string[] }> {
  const by = new Map<string, string[]>();
  for (const n of nodes) {
    if (n.state !== 'DEAD' && n.state !== 'FAILED') continue;
    const reason = n.error ?? n.reason ?? '(no reason recorded)';
    by.set(reason, [...(by.get(reason) ?? []), n.node]);
  }
  return [...by.entries()].map(([reason, ns]) => ({ reason, nodes: ns })).sort((a, b) => b.nodes.length - a.nodes.length || a.reason.localeCompare(b.reason));
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

export function statusJson(t: TaskRecord, nodes: NodeRecord[], now = new Date()): TaskStatusJson {
  const counts = countStates(nodes);
  return {
    task_id: t.taskId,
    name: String(t.spec.name),
    owner: str(t.spec.owner),
    description: str(t.spec.description),
    state: t.state,
    reason: t.reason ?? null,
    action: String(t.spec.action),
    cluster: String(t.spec.cluster),
    limit: t.limit,
    max_failures: t.maxFailures,
    emitted_by: `${t.emittedBy.kind}:${t.emittedBy.user}`,
    emitted_at: isoReq(t.emittedAt),
    routed_at: iso(t.routedAt),
    ended_at: iso(t.endedAt),
    duration_ms: msBetween(t.emittedAt, t.endedAt ?? now.toISOString()),
    paused: actor(t.paused),
    cancelled: actor(t.cancelled),
    resuming: actor(t.resuming),
    resumed_at: iso(t.resumedAt),
    counts,
    total: t.targetCount,
    failures: groupFailures(nodes),
    nodes: nodes.map((n) => ({
      node: n.node,
      state: n.state,
      attempts: n.attempts,
      started_at: iso(n.startedAt),
      ended_at: iso(n.endedAt),
      duration_ms: nodeDurationMs(n, now),
      error: n.error ?? null,
      reason: n.reason ?? null,
      history: n.history.map(attemptJson),
    })),
  };
}

function names(list: string[]): string {
  if (list.length === 0) return '-';
  return list.length > NAMES_SHOWN ? `${list.slice(0, NAMES_SHOWN).join(', ')} and ${list.length - NAMES_SHOWN} more` : list.join(', ');
}

export interface StatusTextOptions {
  /** Print the node table even for a big task. */
  showNodes?: boolean | undefined;
  /** Only these node states in the table (implies the table). */
  states?: NodeState[] | undefined;
  colour?: boolean | undefined;
  now?: Date;
}

export function statusText(t: TaskRecord, nodes: NodeRecord[], opts: StatusTextOptions = {}): string {
  const c = opts.colour ?? false;
  const now = opts.now ?? new Date();
  const counts = countStates(nodes);
  const summary = NODE_STATES.filter((s) => counts[s] > 0).map((s) => paintState(c, s, `${counts[s]} ${s}`)).join(', ');
  const flags = [
    ...(t.paused ? [paint(c, 'yellow', `PAUSED by ${t.paused.by} at ${t.paused.at}; \`taskerman resume ${t.taskId}\` goes on`)] : []),
    ...(t.resuming ? [`being resumed by ${t.resuming.by} since ${t.resuming.at}; if that resume died, run \`taskerman resume ${t.taskId}\` again`] : []),
  ];
  const owner = str(t.spec.owner);
  const description = str(t.spec.description);
  const took = msBetween(t.emittedAt, t.endedAt ?? now.toISOString());
  const head = [
    `task ${paint(c, 'bold', t.taskId)}: ${paintState(c, t.state, t.state.toUpperCase())}${t.reason ? ` (${t.reason})` : ''}`,
    ...flags.map((f) => `  ${f}`),
    `  name: ${String(t.spec.name)}${owner ? `, owner: ${owner}` : ''}`,
    ...(description ? [`  description: ${description}`] : []),
    `  ${String(t.spec.action)} on ${String(t.spec.cluster)}, limit ${t.limit}, max_failures ${t.maxFailures}; emitted by ${t.emittedBy.kind}:${t.emittedBy.user} at ${t.emittedAt}${t.endedAt ? `, ended ${t.endedAt}` : ''} (${humanDuration(took)}${t.endedAt ? '' : ' so far'})`,
    `  nodes: ${nodes.length}${summary ? ` (${summary})` : ''}`,
  ];
  const big = nodes.length > BIG_TASK_NODES;
  if (big || nodes.some((n) => n.state === 'DEAD' || n.state === 'FAILED')) {
    const running = nodes.filter((n) => n.state === 'STARTED').map((n) => n.node);
    if (big) {
      head.push(`  running: ${names(running)}`);
      head.push(`  waiting: ${counts.QUEUED + counts.WAITING}`);
    }
    for (const f of groupFailures(nodes)) head.push(`  ${paint(c, 'red', `failed (${f.nodes.length})`)}: ${f.reason}: ${names(f.nodes)}`);
  }
  const wantTable = !big || opts.showNodes || opts.states !== undefined;
  if (nodes.length === 0) return head.join('\n');
  if (!wantTable) {
    head.push(`  (${nodes.length} nodes: the table with --nodes, or some with --state DEAD,FAILED; everything with --json)`);
    return head.join('\n');
  }
  const shown = opts.states ? nodes.filter((n) => opts.states?.includes(n.state)) : nodes;
  const rows = [['NODE', 'STATE', 'ATTEMPTS', 'STARTED', 'ENDED', 'DURATION', 'DETAIL']];
  for (const n of shown) {
    rows.push([n.node, paintState(c, n.state), String(n.attempts), n.startedAt ?? '-', n.endedAt ?? '-', humanDuration(nodeDurationMs(n, now)), n.error ?? n.reason ?? '']);
  }
  if (shown.length === 0) return `${head.join('\n')}\n\n(no node in state ${opts.states?.join(', ')})`;
  return `${head.join('\n')}\n\n${table(rows, { rightAlign: [2, 5] })}`;
}

/** One progress line: which nodes run, how many succeeded, failed for good or were skipped, how many wait. */
export function progressLine(t: TaskRecord, nodes: NodeRecord[], elapsedMs: number): string {
  const c = countStates(nodes);
  const width = 24;
  const cells = (n: number) => (nodes.length ? Math.round((n / nodes.length) * width) : 0);
  // Succeeded nodes fill the bar with '#', nodes that ended otherwise (DEAD, SKIPPED) with 'x': a failed
  // rollout never shows a full bar of '#'.
  const ok = cells(c.SUCCEEDED);
  const bad = Math.min(width - ok, cells(c.SUCCEEDED + c.DEAD + c.SKIPPED) - ok);
  const running = nodes.filter((n) => n.state === 'STARTED').map((n) => n.node);
  const bar = `[${'#'.repeat(ok)}${'x'.repeat(bad)}${'.'.repeat(width - ok - bad)}]`;
  const parts = [
    `${(elapsedMs / 1000).toFixed(1).padStart(5)}s ${bar} ${c.SUCCEEDED}/${nodes.length} succeeded`,
    `running (${running.length}/${t.limit}): ${running.length > NAMES_SHOWN ? `${running.slice(0, NAMES_SHOWN).join(',')},+${running.length - NAMES_SHOWN}` : running.join(',') || '-'}`,
    `waiting: ${c.QUEUED + c.WAITING}`,
  ];
  if (c.FAILED) parts.push(`retrying: ${c.FAILED}`);
  if (c.DEAD) parts.push(`dead: ${c.DEAD}`);
  if (c.SKIPPED) parts.push(`skipped: ${c.SKIPPED}`);
  if (t.paused) parts.push(`PAUSED by ${t.paused.by}`);
  if (t.state === 'halted') parts.push(`HALTED: ${t.reason ?? 'circuit breaker'}`);
  return parts.join(' | ');
}
