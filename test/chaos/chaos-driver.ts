// The chaos run: one ZooKeeper server (restarted as a fault, on the same port and data dir) and one SQS
// server (fauxqs, in this process: its state is in memory, so it is never restarted) for every round, the
// rounds one after another, a line per round and a summary. `runChaos` never exits the process; chaos.ts
// (the CLI) and test/integration/chaos.test.ts call it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { startSqsServer, type SqsServer } from '../support/sqs-server.js';
import { startZkServer, type ZkServer } from '../support/zk-server.js';
import { FAULT_KINDS, type FaultKind } from './faults.js';
import { TEST_CREDENTIALS } from './proc-env.js';
import { killAllChaosProcs } from './procs.js';
import { runRound, type RoundContext, type RoundResult } from './round.js';

export interface ChaosOptions {
  rounds: number;
  /** Target nodes per rollout. Default 10. */
  nodes?: number;
  /** The rollout's limit. Default 2. */
  limit?: number;
  /** Seeds the fault plans. Default 1. */
  seed?: number;
  /** No round starts after this many seconds (the round in progress finishes). Default: no bound. */
  maxSeconds?: number;
  /** The faults of round i (1-based) are `faults[(i - 1) % faults.length]`, instead of random ones. */
  faults?: FaultKind[][];
  /** How long a round waits for its task to settle. Default 90 s. */
  roundTimeoutMs?: number;
  /** How late after a cancel or halt a start is a propagation race rather than a violation. Default 500 ms. */
  graceMs?: number;
  /** Log level of the child processes (their logs are kept for failed rounds). Default info. */
  logLevel?: string;
  /** Keep the logs and the probe of passing rounds too. */
  keepLogs?: boolean;
  /** Where a line goes (a round, the summary). Default: stdout. */
  out?: (line: string) => void;
}

export interface ChaosSummary {
  rounds: number;
  seed: number;
  seconds: number;
  /** Faults that fired, by kind (planned ones whose moment never came are in `notFired`). */
  faults: Record<FaultKind, number>;
  notFired: Record<FaultKind, number>;
  limitViolations: number;
  /** Target nodes that did not end SUCCEEDED, DEAD or SKIPPED. */
  lost: number;
  duplicateExecutions: number;
  /** Violations other than the limit and lost nodes, plus driver findings (timeouts, crashed children). */
  otherViolations: number;
  timeouts: number;
  /** Rounds whose rollout stalled with work items gone (their nodes are counted in `lost`). */
  stalls: number;
  failedRounds: number[];
  results: RoundResult[];
  workDir: string;
  ok: boolean;
}

const zeroByKind = (): Record<FaultKind, number> => Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;

export function roundLine(r: RoundResult, limit: number): string {
  const c = r.check;
  const fired = r.faults.filter((f) => f.fired).map((f) => f.kind);
  const missed = r.faults.filter((f) => !f.fired).map((f) => `${f.kind}?`);
  const nodes = c.lost.length ? `nodes=${c.settled}/${c.settled + c.lost.length} LOST=${c.lost.length}` : `nodes=${c.settled}/${c.settled} ok`;
  const verdict = r.ok ? 'OK' : 'FAIL';
  return (
    `round ${r.round}: faults=${[...fired, ...missed].join(',') || 'none'} state=${r.state} ${nodes} ` +
    `max_conc=${c.maxConcurrency}/${limit} dup_exec=${c.duplicateExecutions} dead=${c.dead} skipped=${c.skipped}` +
    `${c.resent ? ` resent=${c.resent}` : ''}${c.lateStarts ? ` late_starts=${c.lateStarts}` : ''} ${verdict} (${r.seconds.toFixed(1)} s)`
  );
}

function details(r: RoundResult): string[] {
  const out: string[] = [];
  for (const f of r.faults) out.push(`    fault ${f.kind} ${f.fired ? `at +${f.atMs} ms` : 'did not fire'}: ${f.detail}`);
  for (const v of r.check.violations) out.push(`    VIOLATION ${v}`);
  for (const p of r.problems) out.push(`    PROBLEM ${p}`);
  for (const n of r.check.notes) out.push(`    note ${n}`);
  out.push(`    task ${r.taskId || '(none)'}; logs and probe: ${r.dir}`);
  return out;
}

export async function runChaos(o: ChaosOptions): Promise<ChaosSummary> {
  const began = Date.now();
  const out = o.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const limit = o.limit ?? 2;
  const seed = o.seed ?? 1;
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new RangeError(`rounds must be a positive integer, got ${o.rounds}`);
  if (limit < 1 || (o.nodes ?? 10) < limit) throw new RangeError('need 1 <= limit <= nodes');
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'taskerman-chaos-'));
  let zk: ZkServer | undefined;
  let sqs: SqsServer | undefined;
  let admin: ZkCoordinator | undefined;
  let queue: SqsWorkQueue | undefined;
  const results: RoundResult[] = [];
  try {
    zk = await startZkServer();
    sqs = await startSqsServer();
    admin = await ZkCoordinator.connect({ connectionString: zk.connectionString, sessionTimeoutMs: 30_000 });
    queue = new SqsWorkQueue({ endpoint: sqs.endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS });
    const ctx: RoundContext = {
      zk,
      sqsEndpoint: sqs.endpoint,
      admin,
      queue,
      workDir,
      nodes: o.nodes ?? 10,
      limit,
      seed,
      roundTimeoutMs: o.roundTimeoutMs ?? 90_000,
      graceMs: o.graceMs ?? 500,
      logLevel: o.logLevel ?? 'info',
      keepLogs: o.keepLogs ?? false,
    };
    out(`chaos: ${o.rounds} round(s), ${ctx.nodes} nodes, limit ${limit}, seed ${seed}; ZooKeeper ${zk.connectionString}, SQS ${sqs.endpoint}; work dir ${workDir}`);
    for (let round = 1; round <= o.rounds; round++) {
      if (o.maxSeconds !== undefined && (Date.now() - began) / 1000 > o.maxSeconds) {
        out(`chaos: stopping after ${round - 1} round(s): --max-seconds ${o.maxSeconds} passed`);
        break;
      }
      const forced = o.faults?.length ? o.faults[(round - 1) % o.faults.length] : undefined;
      const r = await runRound(ctx, round, forced);
      results.push(r);
      out(roundLine(r, limit));
      if (!r.ok || r.check.notes.length) for (const line of details(r)) out(line);
    }
  } finally {
    killAllChaosProcs();
    await queue?.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await Promise.allSettled([zk?.stop(), sqs?.stop()]);
  }

  const summary: ChaosSummary = {
    rounds: results.length,
    seed,
    seconds: (Date.now() - began) / 1000,
    faults: zeroByKind(),
    notFired: zeroByKind(),
    limitViolations: 0,
    lost: 0,
    duplicateExecutions: 0,
    otherViolations: 0,
    timeouts: 0,
    stalls: 0,
    failedRounds: [],
    results,
    workDir,
    ok: true,
  };
  for (const r of results) {
    for (const f of r.faults) (f.fired ? summary.faults : summary.notFired)[f.kind]++;
    summary.limitViolations += r.check.limitViolations;
    summary.lost += r.check.lost.length;
    summary.duplicateExecutions += r.check.duplicateExecutions;
    // A timeout or a stall is one problem line, counted on its own (its nodes are in `lost`).
    summary.otherViolations += r.check.violations.length - r.check.limitViolations - r.check.lost.length + r.problems.length - (r.timedOut ? 1 : 0) - (r.stalled ? 1 : 0);
    if (r.timedOut) summary.timeouts++;
    if (r.stalled) summary.stalls++;
    if (!r.ok) summary.failedRounds.push(r.round);
  }
  summary.ok = results.length > 0 && summary.failedRounds.length === 0;
  const byKind = (m: Record<FaultKind, number>) => FAULT_KINDS.map((k) => `${k}=${m[k]}`).join(' ');
  out(`chaos summary: ${summary.rounds} round(s), seed ${seed}, ${summary.seconds.toFixed(0)} s`);
  out(`  faults injected: ${byKind(summary.faults)}`);
  if (Object.values(summary.notFired).some((n) => n > 0)) out(`  planned, did not fire: ${byKind(summary.notFired)}`);
  out(`  limit violations: ${summary.limitViolations}  lost items: ${summary.lost}  duplicate executions: ${summary.duplicateExecutions}  other violations: ${summary.otherViolations}  timeouts: ${summary.timeouts}  stalls: ${summary.stalls}`);
  out(`  result: ${summary.ok ? 'OK' : `FAILED (rounds ${summary.failedRounds.join(', ') || 'none ran'}; logs under ${workDir})`}`);
  if (summary.ok && !o.keepLogs) await rm(workDir, { recursive: true, force: true });
  return summary;
}
