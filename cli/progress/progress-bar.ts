// The progress bar of a rollout on a terminal: counts, the rate of the rollout so far, and an ETA from it.
//
//   [██████████░░░░░░░░░░░░░░]  12/40  ✓11 ✗1  ▶2 ⧗25  0.9 nodes/min  ETA 31m  (4m12s)
//
// Rate = nodes finished / time since the first node started; ETA = nodes left / rate. Both are shown only
// once a node has finished (before that there is nothing to go by).
import type { NodeRecord, TaskRecord } from '../../core/task/task.js';

export interface RolloutCounts {
  total: number;
  succeeded: number;
  dead: number;
  skipped: number;
  running: number;
  /** QUEUED or WAITING. */
  waiting: number;
  /** FAILED: an attempt failed, a retry is coming. */
  retrying: number;
}

export interface RolloutEstimate {
  done: number;
  /** Nodes per minute, or undefined before the first node finished. */
  perMinute: number | undefined;
  etaMs: number | undefined;
}

export function countRollout(nodes: NodeRecord[]): RolloutCounts {
  const c: RolloutCounts = { total: nodes.length, succeeded: 0, dead: 0, skipped: 0, running: 0, waiting: 0, retrying: 0 };
  for (const n of nodes) {
    if (n.state === 'SUCCEEDED') c.succeeded++;
    else if (n.state === 'DEAD') c.dead++;
    else if (n.state === 'SKIPPED') c.skipped++;
    else if (n.state === 'STARTED') c.running++;
    else if (n.state === 'FAILED') c.retrying++;
    else c.waiting++;
  }
  return c;
}

/** When the rollout's first attempt started (epoch ms), if any did. */
export function firstStart(nodes: NodeRecord[]): number | undefined {
  let first: number | undefined;
  for (const n of nodes) for (const h of n.history) {
    const t = Date.parse(h.startedAt);
    if (Number.isFinite(t) && (first === undefined || t < first)) first = t;
  }
  return first;
}

export function estimate(c: RolloutCounts, startedAt: number | undefined, now: number): RolloutEstimate {
  const done = c.succeeded + c.dead + c.skipped;
  if (startedAt === undefined || done === 0 || now <= startedAt) return { done, perMinute: undefined, etaMs: undefined };
  const perMs = done / (now - startedAt);
  return { done, perMinute: perMs * 60_000, etaMs: Math.max(0, (c.total - done) / perMs) };
}

export function shortDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${String(s % 60).padStart(2, '0')}s` : ''}`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}

/** One line for a terminal `columns` wide (the bar shrinks to fit; never below 10 cells). */
export function renderProgressBar(task: Pick<TaskRecord, 'state' | 'paused'>, c: RolloutCounts, e: RolloutEstimate, elapsedMs: number, columns = 100): string {
  const parts = [
    `${e.done}/${c.total}`,
    `✓${c.succeeded}${c.dead ? ` ✗${c.dead}` : ''}${c.skipped ? ` ⤼${c.skipped}` : ''}`,
    `▶${c.running} ⧗${c.waiting}${c.retrying ? ` ↻${c.retrying}` : ''}`,
    e.perMinute === undefined ? '-- nodes/min' : `${e.perMinute >= 10 ? e.perMinute.toFixed(0) : e.perMinute.toFixed(1)} nodes/min`,
    e.etaMs === undefined ? 'ETA --' : `ETA ${shortDuration(e.etaMs)}`,
    `(${shortDuration(elapsedMs)})`,
  ];
  if (task.paused) parts.push('PAUSED');
  if (task.state === 'halted' || task.state === 'cancelled' || task.state === 'failed') parts.push(task.state.toUpperCase());
  const tail = parts.join('  ');
  const width = Math.max(10, Math.min(40, columns - tail.length - 5));
  const filled = c.total ? Math.round((e.done / c.total) * width) : 0;
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]  ${tail}`;
}
