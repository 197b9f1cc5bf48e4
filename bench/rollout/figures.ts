// The rollout benchmark's figures, computed from what the hosts report (pure; no I/O): concurrency and slot
// handoffs from the probe's pre_check start / post_check end events, percentiles, the budget keepers' counts
// summed over every host.
import type { KeeperCounts } from './host-report.js';
import type { ProbeEvent } from './probe.js';

/** The p-th percentile (nearest rank) of ascending `sorted`; NaN when empty. */
export function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export interface Overlap {
  /** Largest number of nodes between pre_check start and post_check end at once. */
  max: number;
  /**
   * Each moment the count went past `limit`: when, and how long after the latest post_check end before it
   * (a real breach vs. clocks of two processes a fraction of a millisecond apart).
   */
  breaches: Array<{ t: number; node: string; concurrent: number; afterLastEndMs: number }>;
  /** A slot's release (post_check end) → the next node's pre_check start, ms, ascending. */
  handoffs: number[];
  /**
   * The `limit`-th pre_check start (fewer starts: the last one). When it comes before the first end, every slot
   * has been used by then, and each slot runs its share of nodes one after another: the rollout cannot end
   * before this plus its waves, so this is what the start-up costs.
   */
  filledAt: number | undefined;
}

/**
 * Walks the events in time order. At equal times an end goes first: a node whose post_check ended in the
 * same millisecond as another's pre_check began was not disrupted alongside it.
 */
export function overlap(events: readonly ProbeEvent[], limit: number): Overlap {
  const sorted = [...events].sort((a, b) => a.t - b.t || (a.kind === b.kind ? 0 : a.kind === 'end' ? -1 : 1));
  let cur = 0;
  let max = 0;
  let lastEnd = -Infinity;
  const releases: number[] = [];
  const handoffs: number[] = [];
  const breaches: Overlap['breaches'] = [];
  const starts = sorted.filter((e) => e.kind === 'start').length;
  let filledAt: number | undefined;
  let started = 0;
  for (const e of sorted) {
    if (e.kind === 'start') {
      cur++;
      if (++started === Math.min(limit, starts)) filledAt = e.t;
      max = Math.max(max, cur);
      if (cur > limit) breaches.push({ t: e.t, node: e.node, concurrent: cur, afterLastEndMs: e.t - lastEnd });
      const r = releases.shift();
      if (r !== undefined) handoffs.push(e.t - r);
    } else {
      cur--;
      lastEnd = e.t;
      releases.push(e.t);
    }
  }
  handoffs.sort((a, b) => a - b);
  return { max, breaches, handoffs, filledAt };
}

export function sumKeepers(counts: readonly KeeperCounts[]): KeeperCounts {
  const total: KeeperCounts = { rounds: 0, reads: 0, writes: 0, grants: 0, conflicts: 0 };
  for (const c of counts) for (const k of Object.keys(total) as Array<keyof KeeperCounts>) total[k] += c[k];
  return total;
}

/** `a - b`, field by field. */
export function keeperDelta(a: KeeperCounts, b: KeeperCounts): KeeperCounts {
  return { rounds: a.rounds - b.rounds, reads: a.reads - b.reads, writes: a.writes - b.writes, grants: a.grants - b.grants, conflicts: a.conflicts - b.conflicts };
}

/** Adds `from`'s counts into `into`. */
export function addCounts(into: Map<string, number>, from: Readonly<Record<string, number>>): Map<string, number> {
  for (const [k, v] of Object.entries(from)) into.set(k, (into.get(k) ?? 0) + v);
  return into;
}

/**
 * Node-milliseconds spent between a pre_check start and the post_check end that follows it, per (task, node):
 * divided by limit × makespan, how much of the allowed concurrency the rollout used (1 = every slot always busy).
 */
export function busyMs(events: readonly ProbeEvent[]): number {
  const open = new Map<string, number>();
  let busy = 0;
  for (const e of [...events].sort((a, b) => a.t - b.t)) {
    const key = `${e.taskId}\u0000${e.node}`;
    if (e.kind === 'start') open.set(key, e.t);
    else {
      const s = open.get(key);
      if (s !== undefined) busy += e.t - s;
      open.delete(key);
    }
  }
  return busy;
}
