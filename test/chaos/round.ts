// One chaos round: its own ZooKeeper root and queue prefix, two router processes and one runner process
// per node, one rollout of `chaos-sleep`, the faults of its plan injected while it runs, then the checks
// of check.ts on what the probe file and the records say. Every wait is bounded.
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CoordinatorError } from '../../core/coordination/coordinator.js';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { parsePolicy } from '../../core/budget/policy.js';
import { delay } from '../../core/delay.js';
import { deadLetterQueues, listDeadLetters, type DeadLetter } from '../../core/queue/dead-letters.js';
import { describeError } from '../../core/errors.js';
import { queueNames, type QueueNames } from '../../core/queue/queue-names.js';
import type { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { cancelTask, ControlError } from '../../core/task/task-control.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { TaskStore, type Progress } from '../../core/task/task-store.js';
import { encodeTaskMessage, FINAL_TASK_STATES, newTaskId, TERMINAL_NODE_STATES, type NodeRecord, type Task, type TaskRecord } from '../../core/task/task.js';
import type { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import type { ZkServer } from '../support/zk-server.js';
import { CHAOS_ACTION } from './chaos-action.js';
import { checkRound, type RoundCheck } from './check.js';
import { planFaults, type FaultKind, type FaultPlan, type FaultRecord } from './faults.js';
import { seededRng } from './prng.js';
import { appendProbe, ProbeReader, type ActionLine, type ProbeLine } from './probe-file.js';
import { spawnChaosProc, type ChaosProc } from './procs.js';
import { ENV } from './proc-env.js';

export interface RoundContext {
  zk: ZkServer;
  sqsEndpoint: string;
  /** The driver's own session: a long timeout, so that it outlives ZooKeeper restarts. */
  admin: ZkCoordinator;
  queue: SqsWorkQueue;
  workDir: string;
  nodes: number;
  limit: number;
  seed: number;
  roundTimeoutMs: number;
  graceMs: number;
  logLevel: string;
  keepLogs: boolean;
}

export interface RoundResult {
  round: number;
  taskId: string;
  plan: FaultPlan;
  faults: FaultRecord[];
  state: string;
  check: RoundCheck;
  timedOut: boolean;
  /** The rollout stalled: nodes not ended and no work item left for them (they were lost). */
  stalled: boolean;
  /** Findings outside check.ts: a child that died on its own, a driver step that failed. */
  problems: string[];
  ok: boolean;
  dir: string;
  seconds: number;
}

const CLUSTER = 'chaos:c1';
const POLL_MS = 20;
/** Bound of every wait for a moment in the rollout (a node inside execute, the k-th work item). */
const MOMENT_TIMEOUT_MS = 30_000;

export const nodeNames = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${String(i + 1).padStart(2, '0')}`);

/** Open attempts inside execute: an `exec` line with no `end` after it, in a process not killed. */
function openExecs(lines: readonly ProbeLine[], taskId: string): ActionLine[] {
  const open = new Map<string, ActionLine>();
  for (const l of lines) {
    if (l.kind === 'exec' && l.task === taskId) open.set(`${l.pid}:${l.node}`, l);
    else if (l.kind === 'end' && l.task === taskId) open.delete(`${l.pid}:${l.node}`);
    else if (l.kind === 'kill') for (const k of [...open.keys()]) if (k.startsWith(`${l.pid}:`)) open.delete(k);
  }
  return [...open.values()];
}

interface Settled {
  task: TaskRecord | undefined;
  nodes: NodeRecord[];
  timedOut: boolean;
  /** Set when the rollout stalled: nodes not ended, and no work item for them left in any queue. */
  stalled?: string;
}

/** How long unended nodes may have no message anywhere before the round calls them lost (> 2 visibilities). */
const STALL_MS = 15_000;

/**
 * Messages (visible, in flight or delayed) that could still end the nodes not ended: in their node queues,
 * the cluster queue and the global queue. Undefined when a queue cannot be read (not created yet).
 */
async function workLeft(queue: SqsWorkQueue, names: QueueNames, pending: string[]): Promise<number | undefined> {
  try {
    const qs = [names.global, names.cluster(CLUSTER), ...pending.map((n) => names.node(CLUSTER, n))];
    const stats = await Promise.all(qs.map((q) => queue.stats(q)));
    return stats.reduce((sum, st) => sum + st.visible + st.inFlight + st.delayed, 0);
  } catch {
    return undefined;
  }
}

/**
 * Waits until the task is final and every target is terminal (ZooKeeper may be restarting meanwhile), or
 * the rollout stalls, or the timeout passes.
 */
async function waitSettled(store: TaskStore, queue: SqsWorkQueue, names: QueueNames, taskId: string, targets: string[], timeoutMs: number): Promise<Settled> {
  const deadline = Date.now() + timeoutMs;
  let last: Settled = { task: undefined, nodes: [], timedOut: false };
  let emptySince: number | undefined;
  let nextLook = 0;
  for (;;) {
    try {
      const t = await store.getTask(taskId);
      const nodes = t ? await store.listNodes(taskId) : [];
      last = { task: t?.value, nodes, timedOut: false };
      const pending = targets.filter((n) => !nodes.some((r) => r.node === n && TERMINAL_NODE_STATES.includes(r.state)));
      if (t && FINAL_TASK_STATES.includes(t.value.state) && pending.length === 0) return last;
      if (t && pending.length > 0 && Date.now() >= nextLook) {
        nextLook = Date.now() + 1000;
        const left = await workLeft(queue, names, pending);
        if (left !== 0) emptySince = undefined;
        else if (emptySince === undefined) emptySince = Date.now();
        else if (Date.now() - emptySince >= STALL_MS) {
          const states = pending.map((n) => `${n}=${nodes.find((r) => r.node === n)?.state ?? 'none'}`).join(' ');
          return { ...last, stalled: `stalled: ${pending.length} node(s) not ended (${states}) and no work item for them in any queue for ${STALL_MS / 1000} s` };
        }
      }
    } catch {
      // ZooKeeper is restarting: look again.
    }
    if (Date.now() > deadline) return { ...last, timedOut: true };
    await delay(200);
  }
}

/** A ZooKeeper call that retries (bounded) through a restart; other errors (a refused cancel) go through. */
async function retryZk<T>(what: string, fn: () => Promise<T>, attempts = 60): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof CoordinatorError)) throw err;
      last = err;
      await delay(500);
    }
  }
  throw new Error(`chaos: ${what} kept failing: ${describeError(last)}`);
}

export async function runRound(ctx: RoundContext, round: number, forced?: FaultKind[]): Promise<RoundResult> {
  const began = Date.now();
  const rng = seededRng(ctx.seed * 100_003 + round);
  const targets = nodeNames(ctx.nodes);
  const plan = planFaults(rng, targets, forced);
  const hex = randomBytes(4).toString('hex');
  const root = `/chaos-${round}-${hex}`;
  const prefix = `ch${round}_${hex}`;
  const names = queueNames(prefix);
  const dir = path.join(ctx.workDir, `round-${String(round).padStart(3, '0')}`);
  await mkdir(dir, { recursive: true });
  const probeFile = path.join(dir, 'probe.jsonl');
  await writeFile(probeFile, '');
  const reader = new ProbeReader(probeFile);
  const store = new TaskStore(ctx.admin, root);

  const procs: ChaosProc[] = [];
  const runners = new Map<string, ChaosProc>();
  const routers: ChaosProc[] = [];
  const faults: FaultRecord[] = [];
  const problems: string[] = [];
  const baseEnv: Record<string, string> = {
    [ENV.zk]: ctx.zk.connectionString,
    [ENV.zkRoot]: root,
    [ENV.sqs]: ctx.sqsEndpoint,
    [ENV.queuePrefix]: prefix,
    [ENV.cluster]: CLUSTER,
    [ENV.probe]: probeFile,
    [ENV.failNodes]: plan.failNodes.join(','),
    // Stretch the fan-out in rounds that kill a router during one.
    [ENV.sendDelayMs]: plan.kinds.includes('kill-router') ? '1000' : '0',
    [ENV.logLevel]: ctx.logLevel,
    [ENV.healthFile]: path.join(dir, 'healthy'),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  await writeFile(path.join(dir, 'healthy'), '');
  let serial = 0;
  const spawnRunner = (node: string): ChaosProc => {
    const p = spawnChaosProc({ role: 'runner', name: `runner ${node}`, env: { ...baseEnv, [ENV.node]: node }, logFile: path.join(dir, `runner-${node}-${serial++}.log`) });
    procs.push(p);
    runners.set(node, p);
    return p;
  };
  const spawnRouter = (): ChaosProc => {
    const p = spawnChaosProc({ role: 'router', name: 'router', env: baseEnv, logFile: path.join(dir, `router-${serial++}.log`) });
    procs.push(p);
    routers.push(p);
    return p;
  };

  let taskId = '';
  let secondId = '';
  let second: Settled | undefined;
  let settled: Settled = { task: undefined, nodes: [], timedOut: false };
  let evidence: { letters: DeadLetter[]; progress: Progress | undefined } = { letters: [], progress: undefined };
  const others: NonNullable<Parameters<typeof checkRound>[0]['others']> = [];
  let routerKilled = false;
  try {
    await Promise.all([spawnRouter(), spawnRouter(), ...targets.map(spawnRunner)].map((p) => p.ready()));
    if (plan.kinds.includes('health-flap')) {
      // The gate checks the runners' local `flap` check before every grant; the budget is the task's limit.
      await retryZk('applying the policy', () => new BudgetStore(ctx.admin, store.paths).applyPolicy(parsePolicy({ cluster: CLUSTER, budget: ctx.limit, health: { check: 'flap', timeout: '2s', interval: '200ms' } }), 'chaos'));
    }

    const spec = parseTaskSpec({
      name: `chaos-round-${round}`,
      action: CHAOS_ACTION,
      cluster: CLUSTER,
      nodes: targets,
      limit: ctx.limit,
      max_failures: plan.maxFailures,
      retry: { count: 1, backoff: '100ms' },
      timeout: '60s',
      args: { ms: 600, jitterMs: 400 },
    });
    const task: Task = { taskId: newTaskId(), spec, emittedBy: { kind: 'cli', user: 'chaos' }, emittedAt: new Date().toISOString() };
    taskId = task.taskId;
    const body = encodeTaskMessage(task);
    await ctx.queue.send(names.global, { body, attributes: { 'taskerman.task_id': taskId } });
    const t0 = Date.now();
    const done = new AbortController();
    const since = () => Date.now() - t0;
    const record = (kind: FaultKind, fired: boolean, detail: string) => {
      faults.push({ kind, fired, atMs: since(), detail });
      if (fired) appendProbe(probeFile, { kind: 'fault', fault: kind, detail, t: Date.now(), pid: process.pid });
    };
    /** Polls the probe until `pick` returns something, the rollout ends, or the bound passes. */
    const moment = async <T>(pick: () => T | undefined, timeoutMs = MOMENT_TIMEOUT_MS): Promise<T | undefined> => {
      const deadline = Date.now() + timeoutMs;
      while (!done.signal.aborted && Date.now() < deadline) {
        reader.poll();
        const v = pick();
        if (v !== undefined) return v;
        await delay(POLL_MS, done.signal);
      }
      return undefined;
    };

    const injectors: Record<FaultKind, () => Promise<void>> = {
      'kill-runner': async () => {
        await delay(plan.killRunnerAfterMs, done.signal);
        const victim = await moment(() => {
          const open = openExecs(reader.lines, taskId).filter((l) => runners.get(l.node)?.pid === l.pid);
          return open.length ? open[Math.floor(plan.killRunnerPick * open.length)] : undefined;
        });
        const proc = victim && runners.get(victim.node);
        if (!victim || !proc) return record('kill-runner', false, 'no runner was inside execute before the rollout ended');
        await proc.kill9();
        // The process is gone: whatever it wrote is in the file, so this tells whether it died inside execute.
        reader.poll();
        const stillInside = openExecs(reader.lines, taskId).some((l) => l.pid === proc.pid);
        appendProbe(probeFile, { kind: 'kill', role: 'runner', node: victim.node, t: Date.now(), pid: proc.pid });
        record('kill-runner', true, `${victim.node} pid ${proc.pid} attempt ${victim.attempt}${stillInside ? ' mid-execute' : ' (its execute ended just before the kill)'}`);
        // A new process for the same node, so that the node can finish (not cut short by the end of the round).
        await delay(plan.restartRunnerAfterMs);
        await spawnRunner(victim.node).ready();
      },
      'kill-router': async () => {
        const sent = await moment(() => {
          const s = reader.lines.filter((l) => l.kind === 'sent' && l.task === taskId);
          return s.length >= plan.killRouterAfterSends ? s : undefined;
        });
        const pid = sent?.[plan.killRouterAfterSends - 1]?.pid;
        const proc = routers.find((r) => r.pid === pid && r.alive);
        if (!sent || !proc) return record('kill-router', false, 'no fan-out seen');
        await proc.kill9();
        routerKilled = true;
        appendProbe(probeFile, { kind: 'kill', role: 'router', t: Date.now(), pid: proc.pid });
        reader.poll();
        const out = new Set(reader.lines.filter((l) => l.kind === 'sent' && l.task === taskId).map((l) => (l.kind === 'sent' ? l.node : ''))).size;
        record('kill-router', true, `pid ${proc.pid} after ${out} of ${targets.length} work items${out >= targets.length ? ' (its fan-out had just completed)' : ' (mid-fan-out)'}`);
        await spawnRouter().ready();
      },
      'zk-restart': async () => {
        await delay(plan.zkRestartAfterMs, done.signal);
        if (done.signal.aborted) return record('zk-restart', false, 'the rollout ended first');
        const inside = await moment(() => (openExecs(reader.lines, taskId).length ? true : undefined), 3000);
        if (done.signal.aborted) return record('zk-restart', false, 'the rollout ended first');
        const at = Date.now();
        appendProbe(probeFile, { kind: 'fault', fault: 'zk-restart-begin', t: at, pid: process.pid });
        await ctx.zk.restart();
        record('zk-restart', true, `down ${Date.now() - at} ms${inside ? ', with nodes inside execute' : ''}`);
      },
      'dup-message': async () => {
        await delay(plan.duplicateAfterMs, done.signal);
        if (done.signal.aborted) return record('dup-message', false, 'the rollout ended first');
        await ctx.queue.send(names.global, { body, attributes: { 'taskerman.task_id': taskId } });
        record('dup-message', true, `same body sent again after ${plan.duplicateAfterMs} ms`);
      },
      'fail-nodes': async () => {
        record('fail-nodes', true, `${plan.failNodes.join(',')} always fail, retry 1, max_failures ${plan.maxFailures}`);
      },
      'second-task': async () => {
        await delay(plan.secondTaskAfterMs, done.signal);
        if (done.signal.aborted) return record('second-task', false, 'the rollout ended first');
        const t2: Task = { taskId: newTaskId(), spec: { ...spec, name: `chaos-round-${round}-b`, retry: { count: 1, backoffMs: 100 }, maxFailures: { kind: 'count', value: targets.length } }, emittedBy: { kind: 'cli', user: 'chaos' }, emittedAt: new Date().toISOString() };
        secondId = t2.taskId;
        await ctx.queue.send(names.global, { body: encodeTaskMessage(t2), attributes: { 'taskerman.task_id': secondId } });
        record('second-task', true, `task ${secondId} on the same cluster, limit ${ctx.limit}`);
      },
      reboot: async () => {
        await delay(plan.rebootAfterMs, done.signal);
        const victim = await moment(() => {
          const open = openExecs(reader.lines, taskId).filter((l) => runners.get(l.node)?.pid === l.pid);
          return open.length ? open[Math.floor(plan.killRunnerPick * open.length)] : undefined;
        });
        const proc = victim && runners.get(victim.node);
        if (!victim || !proc || !proc.alive) return record('reboot', false, 'no runner was inside execute before the rollout ended');
        await proc.kill9();
        appendProbe(probeFile, { kind: 'kill', role: 'runner', node: victim.node, t: Date.now(), pid: proc.pid });
        record('reboot', true, `${victim.node} down ${plan.rebootDownMs} ms mid-execute (its grant must hold the others back)`);
        await delay(plan.rebootDownMs);
        await spawnRunner(victim.node).ready();
      },
      'health-flap': async () => {
        const file = path.join(dir, 'healthy');
        for (let i = 0; i < 2; i++) {
          await delay(plan.healthFlapAfterMs, done.signal).catch(() => undefined);
          if (done.signal.aborted) return record('health-flap', i > 0, i > 0 ? 'flapped once' : 'the rollout ended first');
          await rm(file, { force: true });
          appendProbe(probeFile, { kind: 'fault', fault: 'health-closed', t: Date.now(), pid: process.pid });
          await delay(plan.healthDownMs);
          appendProbe(probeFile, { kind: 'fault', fault: 'health-open', t: Date.now(), pid: process.pid });
          await writeFile(file, '');
        }
        record('health-flap', true, `the health check failed twice for ${plan.healthDownMs} ms`);
      },
      cancel: async () => {
        await delay(plan.cancelAfterMs, done.signal);
        if (done.signal.aborted) return record('cancel', false, 'the rollout ended first');
        try {
          const t = await retryZk('cancel', () => cancelTask(store, taskId, 'chaos'), 40);
          record('cancel', true, `cancelled at ${t.cancelled?.at ?? '?'}`);
        } catch (err) {
          if (err instanceof ControlError) return record('cancel', false, describeError(err));
          throw err;
        }
      },
    };
    const running = plan.kinds.map((k) =>
      injectors[k]().catch((err: unknown) => {
        problems.push(`driver: injecting ${k} failed: ${describeError(err)}`);
      }),
    );

    settled = await waitSettled(store, ctx.queue, names, taskId, targets, ctx.roundTimeoutMs);
    done.abort();
    await Promise.all(running);
    if (secondId) second = await waitSettled(store, ctx.queue, names, secondId, targets, ctx.roundTimeoutMs);
    if (settled.timedOut || second?.timedOut) {
      // While every process still runs: the cluster budget as the keeper sees it (who waits, and for what),
      // for the round's folder.
      const snap = await new BudgetStore(ctx.admin, store.paths).inspect(CLUSTER).catch((err: unknown) => ({ error: describeError(err) }));
      await writeFile(path.join(dir, 'budget-at-timeout.json'), JSON.stringify(snap, null, 2));
      problems.push(`budget at the timeout: ${path.join(dir, 'budget-at-timeout.json')}`);
    }
  } catch (err) {
    problems.push(`driver: ${describeError(err)}`);
  } finally {
    for (const p of procs) {
      if (!p.alive && !p.expectedExit) problems.push(`${p.name} (pid ${p.pid}) exited on its own: code ${String(p.exit?.code)} signal ${String(p.exit?.signal)} (log: ${p.logFile})`);
    }
    const live = procs.filter((p) => p.alive);
    const exits = await Promise.all(live.map(async (p) => ({ p, exit: await p.stop() })));
    for (const { p, exit } of exits) {
      if (exit.code !== 0) problems.push(`${p.name} (pid ${p.pid}) did not stop cleanly on SIGTERM: code ${String(exit.code)} signal ${String(exit.signal)} (log: ${p.logFile})`);
    }
  }

  try {
    if (taskId) {
      // Every process is gone: the records and the dead-letter queue are final now.
      const final = await retryZk('reading the task', async () => ({ task: (await store.getTask(taskId))?.value, nodes: await store.listNodes(taskId), progress: await store.getProgress(taskId) }));
      settled = { ...settled, task: final.task, nodes: final.nodes };
      const dlqs = await deadLetterQueues(ctx.queue, names, CLUSTER);
      evidence = { letters: await listDeadLetters(ctx.queue, dlqs, { taskId }), progress: final.progress };
      if (secondId) {
        const t2 = await retryZk('reading the second task', async () => ({ task: (await store.getTask(secondId))?.value, nodes: await store.listNodes(secondId) }));
        others.push({ taskId: secondId, targets, task: t2.task, nodes: t2.nodes, letters: await listDeadLetters(ctx.queue, dlqs, { taskId: secondId }) });
      }
    }
  } catch (err) {
    problems.push(`driver: collecting the evidence failed: ${describeError(err)}`);
  }
  reader.poll();
  const check = checkRound({
    taskId,
    // No task was submitted (the processes never got ready): a driver problem, not lost work.
    targets: taskId ? targets : [],
    limit: ctx.limit,
    task: settled.task,
    nodes: settled.nodes,
    progress: evidence.progress,
    letters: evidence.letters,
    lines: reader.lines,
    routerKilled,
    graceMs: ctx.graceMs,
    others,
  });
  if (second?.stalled) problems.push(`second task: ${second.stalled}`);
  if (second?.timedOut) problems.push(`timeout: the second task did not settle within ${ctx.roundTimeoutMs} ms`);
  if (settled.stalled) problems.push(settled.stalled);
  if (settled.timedOut) problems.push(`timeout: the task did not settle within ${ctx.roundTimeoutMs} ms: ${settled.task?.state ?? 'no record'}; ${settled.nodes.map((n) => `${n.node}=${n.state}`).join(' ')}`);

  await retryZk('removing the round root', () => ctx.admin.removeRecursive(root), 10).catch((err: unknown) => problems.push(`cleanup: ${describeError(err)}`));
  for (const q of await ctx.queue.list(prefix).catch(() => [])) await ctx.queue.deleteQueue(q).catch(() => undefined);

  const ok = problems.length === 0 && check.violations.length === 0;
  if (ok && !ctx.keepLogs) await rm(dir, { recursive: true, force: true });
  return {
    round,
    taskId,
    plan,
    faults,
    state: settled.task?.state ?? 'none',
    check,
    timedOut: settled.timedOut,
    stalled: Boolean(settled.stalled),
    problems,
    ok,
    dir,
    seconds: (Date.now() - began) / 1000,
  };
}
