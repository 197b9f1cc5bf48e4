// The checks of one chaos round, from the probe file (what the actions and routers really did, in the
// file's global order) and from the records (ZooKeeper, the dead-letter queue). A pure function, so that
// test/integration/chaos.test.ts can show that it catches what it claims to catch.
//
//   1. limit:  at no point of the probe were more than `limit` nodes of the cluster disrupted, by every task of
//              the round together. A node is disrupted from an attempt's pre_check start until a post_check
//              of it completes: a failed attempt (retried, or DEAD) and an attempt cut by a SIGKILL (a reboot)
//              leave it disrupted; only a node ended SKIPPED with nothing failed under its grant (a cancel, a
//              halt) is released without one, at its record's end. No node is started by a second task while
//              another holds it. While the health gate is closed (the driver's `health-closed`..`health-open`
//              lines), no node starts a first attempt past the grace period.
//   2. loss:   every target ends SUCCEEDED (with a completed post_check in the probe), DEAD (with a dead
//              letter that has a reason) or SKIPPED (with a reason, in a halted or cancelled task).
//   3. once:   no node receives more than one work item unless a router died mid-fan-out; no attempt
//              starts after the task was cancelled or halted. A runner's start is a write guarded on the
//              task record, so it is ordered before the cancel or halt in ZooKeeper; `graceMs` covers only
//              the time from that write to the action's first probe line, measured on another clock.
import type { DeadLetter } from '../../core/queue/dead-letters.js';
import type { Progress } from '../../core/task/task-store.js';
import { FINAL_TASK_STATES, TERMINAL_NODE_STATES, type NodeRecord, type TaskRecord } from '../../core/task/task.js';
import type { ActionLine, ProbeLine } from './probe-file.js';

export interface RoundEvidence {
  taskId: string;
  targets: string[];
  limit: number;
  task: TaskRecord | undefined;
  nodes: NodeRecord[];
  progress: Progress | undefined;
  /** Dead letters of this task (from the cluster's dead-letter queue). */
  letters: DeadLetter[];
  lines: ProbeLine[];
  /** A router was killed during the round: work items sent again to nodes still QUEUED are allowed. */
  routerKilled: boolean;
  graceMs: number;
  /** Other tasks of the round on the same cluster (the second-task fault): their lines count in the cluster's disruptions. */
  others?: Array<{ taskId: string; targets: string[]; task: TaskRecord | undefined; nodes: NodeRecord[]; letters: DeadLetter[] }>;
}

export interface RoundCheck {
  maxConcurrency: number;
  /** Targets that ended SUCCEEDED, DEAD or SKIPPED. */
  settled: number;
  succeeded: number;
  dead: number;
  skipped: number;
  /** `node=STATE` of the targets that did not end. */
  lost: string[];
  /** Attempts that started while `limit` others were inside. */
  limitViolations: number;
  /** Every broken invariant, in words (limit violations and lost nodes included). */
  violations: string[];
  /** Attempts beyond the first that were not retries of a failed attempt (at-least-once re-executions). */
  duplicateExecutions: number;
  /** Nodes whose post_check completed more than once. */
  completedTwice: number;
  /** Work items beyond one per node (allowed only after a router died mid-fan-out). */
  resent: number;
  /** Attempts that started after the cancel or the halt, within the grace period. */
  lateStarts: number;
  /** Attempts that never ended in a process that was not killed. */
  unclosed: number;
  /** Observations that are not violations, for the reader of the round line. */
  notes: string[];
}

const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

interface Concurrency {
  max: number;
  violations: string[];
  unclosed: number;
  neverEnded: string[];
}

/**
 * Replays the round in file order: the nodes disrupted at once across every task (see the header). `released`
 * gives, for a node that ends without a completed post_check but gives its grant back (SKIPPED), when it did.
 */
function concurrency(lines: ProbeLine[], limit: number, released: (node: string) => number | undefined, graceMs: number): Concurrency {
  const down = new Map<string, ActionLine>();
  const violations: string[] = [];
  let max = 0;
  let unclosed = 0;
  let closedAt: number | undefined;
  for (const l of lines) {
    for (const [node] of down) {
      const r = released(node);
      if (r !== undefined && r <= l.t) down.delete(node);
    }
    if (l.kind === 'fault' && l.fault === 'health-closed') closedAt = l.t;
    else if (l.kind === 'fault' && l.fault === 'health-open') closedAt = undefined;
    if (l.kind === 'start') {
      if (closedAt !== undefined && l.attempt === 1 && l.t - closedAt > graceMs) {
        violations.push(`health: ${l.node} (task ${l.task}) started ${l.t - closedAt} ms after the health gate closed`);
      }
      const held = down.get(l.node);
      if (held) {
        if (held.task !== l.task) violations.push(`node ${l.node} started by task ${l.task} while task ${held.task} held it`);
        // A retry, or the attempt after a reboot: the node was disrupted all along.
        if (held.pid === l.pid && held.task === l.task) unclosed++;
        down.set(l.node, l);
        continue;
      }
      down.set(l.node, l);
      if (down.size > limit) {
        const who = [...down.values()].map((o) => `${o.node}@${o.pid}`).join(' ');
        violations.push(`limit: ${down.size} nodes disrupted at once (limit ${limit}) when ${l.node} started at ${new Date(l.t).toISOString()}: ${who}`);
      }
      max = Math.max(max, down.size);
    } else if (l.kind === 'end' && l.ok) {
      down.delete(l.node);
    }
  }
  return { max, violations, unclosed, neverEnded: [...down.values()].map((o) => `${o.node}@${o.pid}`) };
}

/** When a node's grant went back without a completed post_check: SKIPPED with no counted failure (cancel, halt). */
export function releaseTimes(nodes: NodeRecord[]): (node: string) => number | undefined {
  const m = new Map<string, number>();
  for (const r of nodes) {
    const failedLast = r.history.length > 0 && Boolean(r.history[r.history.length - 1]?.error) && r.history[r.history.length - 1]?.counted !== false;
    if (r.state === 'SKIPPED' && !failedLast && r.endedAt) m.set(r.node, Date.parse(r.endedAt));
  }
  return (n) => m.get(n);
}

interface Settlement {
  succeeded: number;
  dead: number;
  skipped: number;
  lost: string[];
  violations: string[];
  notes: string[];
}

/** Every target ends, each with the evidence its end state needs. */
function settlement(e: RoundEvidence, completions: Map<string, number>): Settlement {
  const s: Settlement = { succeeded: 0, dead: 0, skipped: 0, lost: [], violations: [], notes: [] };
  const task = e.task;
  if (!task) {
    s.lost.push(...e.targets.map((n) => `${n}=NO_TASK_RECORD`));
    return s;
  }
  if (!FINAL_TASK_STATES.includes(task.state)) s.notes.push(`task still ${task.state}`);
  const endedByControl = task.state === 'halted' || task.state === 'cancelled';
  for (const node of e.targets) {
    const r = e.nodes.find((n) => n.node === node);
    if (!r) {
      s.lost.push(`${node}=NO_RECORD`);
    } else if (!TERMINAL_NODE_STATES.includes(r.state)) {
      s.lost.push(`${node}=${r.state}${r.reason ? `(${r.reason})` : ''}`);
    } else if (r.state === 'SUCCEEDED') {
      s.succeeded++;
      if (!completions.get(node)) s.violations.push(`${node} is SUCCEEDED but its post_check never completed in the probe`);
    } else if (r.state === 'DEAD') {
      s.dead++;
      const letter = e.letters.find((d) => d.node === node);
      if (!letter) s.violations.push(`${node} is DEAD but has no dead letter`);
      else if (!letter.reason.trim()) s.violations.push(`${node} is DEAD but its dead letter has no reason`);
    } else {
      s.skipped++;
      if (!r.reason?.trim()) s.violations.push(`${node} is SKIPPED without a reason`);
      if (!endedByControl) s.violations.push(`${node} is SKIPPED in a task that is ${task.state}, neither halted nor cancelled`);
    }
  }
  if (task.state === 'succeeded' && s.succeeded !== e.targets.length) s.violations.push(`task succeeded with ${s.succeeded} of ${e.targets.length} nodes SUCCEEDED`);
  const p = e.progress;
  if (p && s.lost.length === 0 && (p.SUCCEEDED !== s.succeeded || p.DEAD !== s.dead || p.SKIPPED !== s.skipped)) {
    s.violations.push(`progress record says ${p.SUCCEEDED}/${p.DEAD}/${p.SKIPPED} succeeded/dead/skipped, the node records ${s.succeeded}/${s.dead}/${s.skipped}`);
  }
  for (const d of e.letters) {
    const r = e.nodes.find((n) => n.node === d.node);
    if (r && r.state !== 'DEAD') s.notes.push(`dead letter for ${d.node ?? '?'}, which is ${r.state}: ${d.reason.slice(0, 100)}`);
  }
  return s;
}

/** Attempts that started after the task was cancelled or halted. */
function startsAfterEnd(e: RoundEvidence, lines: ProbeLine[]): { late: number; violations: string[] } {
  const task = e.task;
  const out = { late: 0, violations: [] as string[] };
  if (!task || (task.state !== 'halted' && task.state !== 'cancelled')) return out;
  const endedAt = Date.parse(task.cancelled?.at ?? task.endedAt ?? '');
  if (!Number.isFinite(endedAt)) return out;
  for (const l of lines) {
    if (l.kind !== 'start' || l.t <= endedAt) continue;
    const after = l.t - endedAt;
    if (after > e.graceMs) out.violations.push(`${l.node} (pid ${l.pid}) started an attempt ${after} ms after the task was ${task.state}`);
    else out.late++;
  }
  return out;
}

export function checkRound(e: RoundEvidence): RoundCheck {
  const lines = e.lines.filter((l) => !('task' in l) || l.task === e.taskId);
  const others = e.others ?? [];
  const taskIds = new Set([e.taskId, ...others.map((o) => o.taskId)]);
  // The budget is the cluster's: every task's lines count together.
  const clusterLines = e.lines.filter((l) => !('task' in l) || taskIds.has(l.task));
  const releasedByTask = [e.nodes, ...others.map((o) => o.nodes)].map(releaseTimes);
  const conc = concurrency(clusterLines, e.limit, (node) => {
    const ts = releasedByTask.map((f) => f(node)).filter((x): x is number => x !== undefined);
    return ts.length ? Math.max(...ts) : undefined;
  }, e.graceMs);

  const starts = new Map<string, number>();
  const failures = new Map<string, number>();
  const completions = new Map<string, number>();
  const sends = new Map<string, number>();
  for (const l of lines) {
    if (l.kind === 'start') bump(starts, l.node);
    else if (l.kind === 'end' && l.ok) bump(completions, l.node);
    else if (l.kind === 'end' && !l.aborted) bump(failures, l.node);
    else if (l.kind === 'sent') bump(sends, l.node);
  }
  let duplicateExecutions = 0;
  let completedTwice = 0;
  for (const [node, n] of starts) {
    duplicateExecutions += Math.max(0, n - 1 - (failures.get(node) ?? 0));
    if ((completions.get(node) ?? 0) > 1) completedTwice++;
  }

  const s = settlement(e, completions);
  const late = startsAfterEnd(e, lines);
  // The second task must end too, each node with its evidence.
  for (const o of others) {
    const oc = new Map<string, number>();
    for (const l of e.lines) if (l.kind === 'end' && l.ok && l.task === o.taskId) bump(oc, l.node);
    const os = settlement({ ...e, taskId: o.taskId, targets: o.targets, task: o.task, nodes: o.nodes, letters: o.letters, progress: undefined }, oc);
    s.lost.push(...os.lost.map((x) => `${o.taskId}:${x}`));
    s.violations.push(...os.violations.map((x) => `second task: ${x}`));
  }

  const fanout: string[] = [];
  let resent = 0;
  for (const [node, n] of sends) {
    if (n <= 1) continue;
    resent += n - 1;
    if (!e.routerKilled) fanout.push(`fanned out twice: ${node} received ${n} work items and no router died`);
  }

  const notes = [...s.notes];
  if (conc.neverEnded.length) notes.push(`attempts that never ended: ${conc.neverEnded.join(' ')}`);
  if (late.late) notes.push(`${late.late} start(s) within ${e.graceMs} ms after the task was ${e.task?.state ?? '?'}`);
  return {
    maxConcurrency: conc.max,
    settled: s.succeeded + s.dead + s.skipped,
    succeeded: s.succeeded,
    dead: s.dead,
    skipped: s.skipped,
    lost: s.lost,
    limitViolations: conc.violations.length,
    violations: [...conc.violations, ...s.lost.map((l) => `lost: ${l}`), ...s.violations, ...late.violations, ...fanout],
    duplicateExecutions,
    completedTwice,
    resent,
    lateStarts: late.late,
    unclosed: conc.unclosed,
    notes,
  };
}
