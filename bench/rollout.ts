// Rollout benchmark: one rollout of a sleep action (bench/rollout/probe.ts) over N runners, each with its own
// ZooKeeper session and SQS client as separate machines would have, and one router (with its supervisor),
// against a real ZooKeeper server and the SQS-protocol server (fauxqs) on loopback. Prints the makespan against
// the ideal ceil(T·N/limit)·seconds, the largest concurrency observed (it must never exceed the limit: the
// bench says so loudly, and exits 1, if it does), submit → first start, slot handoff latency (a slot's release
// → the next node's pre_check start), event-loop delay and CPU per process, SQS requests per node, and the
// budget keeper's ZooKeeper reads and writes per grant.
//
// Where things run:
//   (default)   one process hosts the SQS server, the router and every runner (one event loop for all).
//   --procs K   as in production: the SQS server in a child process, the router in another, and the runners
//               split over K child processes (bench/rollout/worker.ts, driven over IPC). This process only
//               starts ZooKeeper, submits, waits and collects. Every child is killed on every exit path.
// ZooKeeper is always its own (Java) process.
//
// With --tasks T, T tasks of the same nodes and limit run side by side: they share the cluster's budget (each
// task's limit counts every task's disrupted nodes), so the ideal is ceil(T·N/limit)·seconds.
// Unless --cold, a noop rollout over every node goes first (not measured; the runners finish with it before the
// measured task is submitted): routers are long-lived.
// --cpu-prof DIR writes a CPU profile of each child process (with --procs) into DIR (open in Chrome DevTools).
//
//   npm run bench:rollout -- --nodes 100 --limit 10 --seconds 1 [--tasks 2] [--procs 2] [--cold] [--cpu-prof DIR]
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ZkCoordinator } from '../core/coordination/zk-coordinator.js';
import { SqsWorkQueue } from '../core/queue/sqs-work-queue.js';
import { emitTask } from '../core/task/emit.js';
import { parseTaskSpec } from '../core/task/task-spec.js';
import { TaskStore } from '../core/task/task-store.js';
import { FINAL_TASK_STATES, newTaskId, type TaskRecord } from '../core/task/task.js';
import { fromJsonBuffer, isZkUnreachable } from '../core/coordination/coordinator.js';
import { startZkServer, type ZkServer } from '../test/support/zk-server.js';
import { cpuMs } from './bench-support.js';
import { delay } from '../core/delay.js';
import { addCounts, busyMs, overlap, pct, sumKeepers } from './rollout/figures.js';
import type { HostReport } from './rollout/host-report.js';
import { FLEET, fleetNames, fleetNodes, LocalHost, SQS_CREDENTIALS, type HostPlan, type RolloutHost } from './rollout/local-host.js';
import { PROBE_ACTION, wallNow } from './rollout/probe.js';
import { killAllHosts, RemoteHost } from './rollout/remote-host.js';

const USAGE = 'usage: --nodes N --limit L --seconds S [--tasks T] [--procs K] [--cold] [--cpu-prof DIR]';
const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100' },
    limit: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '1' },
    cold: { type: 'boolean', default: false },
    tasks: { type: 'string', default: '1' },
    procs: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
function whole(flag: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${flag} must be a whole number from ${min} to ${max} (got "${v}"); ${USAGE}`);
  return n;
}
const N = whole('nodes', values.nodes, 1, 5000);
const LIMIT = whole('limit', values.limit, 1, 5000);
const TASKS = whole('tasks', values.tasks, 1, 10);
const PROCS = values.procs === undefined ? undefined : whole('procs', values.procs, 1, 64);
const SECONDS = Number(values.seconds);
if (!(SECONDS >= 0 && SECONDS <= 3600)) throw new Error(`--seconds must be 0-3600 (got "${values.seconds}"); ${USAGE}`);
if (PROCS !== undefined && PROCS > N) throw new Error(`--procs ${PROCS} is more than --nodes ${N}: every runner process needs a runner`);
const PROF_DIR = values['cpu-prof'] ? path.resolve(values['cpu-prof']) : undefined;
if (PROF_DIR && PROCS === undefined) throw new Error('--cpu-prof profiles the child processes of --procs; without it, run node --cpu-prof --import tsx bench/rollout.ts ...');

/**
 * Waits until the task reaches a final state; returns it. Bounded by `timeoutMs`. Woken by a watch on the task
 * record only (and a look every second, for the time before the router records it): not cli/wait.ts's
 * waitForTask nor TaskWatch, which watch every node record and list them on each change, ZooKeeper load that
 * would land on the rollout being measured (a 1,000-node listing per node change).
 */
async function waitFinal(store: TaskStore, taskId: string, timeoutMs: number): Promise<string> {
  const deadline = wallNow() + timeoutMs;
  const path = store.paths.task(taskId);
  let wake: () => void = () => undefined;
  // One watch at a time (set again once it fired), however often the one-second look comes round.
  let armed = false;
  const fired = () => {
    armed = false;
    wake();
  };
  for (;;) {
    const changed = new Promise<void>((resolve) => (wake = resolve));
    let state: string;
    try {
      // Armed before the answer: the watch can fire before this call's continuation runs (an answer and the
      // change after it in one read from the socket), and must not be taken for still armed then.
      const watch = armed ? undefined : fired;
      armed = true;
      const d = await store.coordinator.get(path, watch);
      state = d ? fromJsonBuffer<TaskRecord>(d.data).state : 'routing';
    } catch (err) {
      // ZooKeeper out of reach for a moment (a loaded machine): look again at the next tick, watch included.
      if (!isZkUnreachable(err)) throw err;
      armed = false;
      state = 'unknown (ZooKeeper unreachable)';
    }
    if ((FINAL_TASK_STATES as readonly string[]).includes(state)) return state;
    if (wallNow() > deadline) throw new Error(`task ${taskId} did not finish within ${timeoutMs} ms (${state})`);
    const timer = setTimeout(wake, 1000);
    await changed;
    clearTimeout(timer);
  }
}

/** Waits (bounded) until `probe` holds, polling every 100 ms. */
async function until(what: string, probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = wallNow() + timeoutMs;
  while (!(await probe())) {
    if (wallNow() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** N nodes over K runner hosts, in contiguous shares as even as can be. */
function split(nodes: string[], k: number): string[][] {
  return Array.from({ length: k }, (_, i) => nodes.slice(Math.floor((i * nodes.length) / k), Math.floor(((i + 1) * nodes.length) / k)));
}

let zk: ZkServer | undefined;
const hosts: RolloutHost[] = [];
let admin: SqsWorkQueue | undefined;
let adminZk: ZkCoordinator | undefined;
let cleaning: Promise<void> | undefined;
/**
 * Stops everything, once, whoever asks first (the end of the run, an error, a signal): the hosts in order
 * (runners first: their long polls end with their clients; the SQS server last), each bounded, then any child
 * still running is killed, and ZooKeeper stopped with its data dir removed.
 */
function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    for (const h of [...hosts].reverse()) await Promise.race([h.stop(), new Promise((r) => setTimeout(r, 40_000).unref())]);
    await killAllHosts();
    await admin?.close().catch(() => undefined);
    await adminZk?.close().catch(() => undefined);
    await zk?.stop();
  })());
}
// Ctrl-C or a kill: no child, nor the ZooKeeper server or its data dir, outlives us.
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    process.stderr.write(`bench:rollout: ${sig}: stopping the child processes and ZooKeeper\n`);
    // The children first, at once: the orderly stops of cleanup() then find them gone.
    void killAllHosts()
      .then(cleanup)
      .finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  });
}

const nodes = fleetNodes(N);
const names = fleetNames();
const cluster = FLEET.cluster;
try {
  zk = await startZkServer();
  const zkString = zk.connectionString;
  const spawnOpts = { nodeOptions: PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : [], startTimeoutMs: 120_000 + N * 200 };
  const start = (plan: HostPlan): Promise<RolloutHost> => (PROCS === undefined ? LocalHost.start(plan) : RemoteHost.spawn(plan, spawnOpts));

  const sqsHost = await start({ label: 'sqs', zk: zkString, sqs: true, nodes: [] });
  hosts.push(sqsHost);
  const endpoint = sqsHost.sqsEndpoint as string;
  admin = new SqsWorkQueue({ endpoint, region: 'us-east-1', credentials: SQS_CREDENTIALS });
  // Production queues exist before a rollout (terraform, or the first fan-out); create them up front so the
  // runners' first polls find them.
  const spec = { deadLetter: names.clusterDlq(cluster), maxReceiveCount: 10, visibilityTimeoutSec: 60 };
  await admin.ensureQueue({ name: names.cluster(cluster), ...spec });
  for (const n of nodes) await admin.ensureQueue({ name: names.node(cluster, n), ...spec });
  adminZk = await ZkCoordinator.connect({ connectionString: zkString, sessionTimeoutMs: 10_000 });
  const store = new TaskStore(adminZk, FLEET.root);
  await store.init();

  const plans: HostPlan[] =
    PROCS === undefined
      ? [{ label: 'router+runners', zk: zkString, sqsEndpoint: endpoint, router: true, nodes }]
      : [{ label: 'router', zk: zkString, sqsEndpoint: endpoint, router: true, nodes: [] }, ...split(nodes, PROCS).map((share, i) => ({ label: `runners-${i + 1}`, zk: zkString, sqsEndpoint: endpoint, nodes: share }))];
  const started = await Promise.allSettled(plans.map(start));
  for (const s of started) if (s.status === 'fulfilled') hosts.push(s.value);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;

  // The fleet is up when every runner is polling both its queues (its queue URLs resolved): submitting before
  // that would measure the runners' start-up, not the rollout.
  const receives = async () => (await sqsHost.sqsCounts()).ReceiveMessage ?? 0;
  await until(`every runner polling (${2 * N} receives)`, async () => (await receives()) >= 2 * N, 60_000 + N * 100);

  // Every node at once: N runners end their node together, a worst case of its own (printed, not measured).
  let warmUpMs: number | undefined;
  if (!values.cold) {
    const w0 = wallNow();
    const acked = async () => (await sqsHost.sqsCounts()).DeleteMessage ?? 0;
    const acked0 = await acked();
    const warm = await emitTask(admin, names, parseTaskSpec({ name: 'warm-up', action: 'noop', cluster, nodes, limit: N }), { kind: 'cli', user: 'bench' });
    await waitFinal(store, warm.taskId, 120_000 + N * 1000);
    warmUpMs = wallNow() - w0;
    // The task is settled by its last node's end, before the runners have acknowledged their items and given
    // back their claims: that tail (an SQS delete, a ZooKeeper remove and a new poll per runner) overlapped the
    // measured task's first second. Let it drain: every item acknowledged, then a moment for what follows.
    await until('every warm-up item acknowledged', async () => (await acked()) >= acked0 + N, 60_000 + N * 100);
    await delay(300);
  }

  const ids = Array.from({ length: TASKS }, () => newTaskId());
  await Promise.all(hosts.map((h) => h.measure(ids)));
  const zkCpu0 = zk.pid ? cpuMs(zk.pid) : NaN;
  const load = os.loadavg();
  const t0 = wallNow();
  for (const [i, id] of ids.entries()) {
    const benchSpec = parseTaskSpec({ name: `bench-${i + 1}`, action: PROBE_ACTION, cluster, nodes, limit: LIMIT, args: { seconds: SECONDS } });
    await emitTask(admin, names, benchSpec, { kind: 'cli', user: 'bench' }, id);
  }
  const ideal = Math.ceil((TASKS * N) / LIMIT) * SECONDS;
  // The keeper rewrites the cluster's gate (the ledger) with every grant, and its waiting list (up to 100 entries
  // with reasons) at most once a second: how big each gets.
  let gateMax = 0;
  let waitingMax = 0;
  const sampler = setInterval(() => {
    store.coordinator.get(store.paths.gate(cluster)).then(
      (d) => (gateMax = Math.max(gateMax, d?.data.length ?? 0)),
      () => undefined,
    );
    store.coordinator.get(store.paths.waiting(cluster)).then(
      (d) => (waitingMax = Math.max(waitingMax, d?.data.length ?? 0)),
      () => undefined,
    );
  }, 1000);
  const states = await Promise.all(ids.map((id) => waitFinal(store, id, (ideal * 3 + 180 + N * 0.2) * 1000)));
  const tEnd = wallNow();
  clearInterval(sampler);
  const zkCpu = (zk.pid ? cpuMs(zk.pid) : NaN) - zkCpu0;
  const reports = await Promise.all(hosts.map((h) => h.collect()));
  print(reports, { t0, tEnd, ideal, states, zkCpu, load, warmUpMs, gateMax, waitingMax });
} finally {
  await cleanup();
}

function print(reports: HostReport[], m: { t0: number; tEnd: number; ideal: number; states: string[]; zkCpu: number; load: number[]; warmUpMs: number | undefined; gateMax: number; waitingMax: number }): void {
  const { t0, tEnd, ideal } = m;
  const events = reports.flatMap((r) => r.events).sort((a, b) => a.t - b.t);
  const o = overlap(events, LIMIT);
  const makespan = (tEnd - t0) / 1000;
  const sqs = new Map<string, number>();
  for (const r of reports) addCounts(sqs, r.sqs);
  const sqsTotal = [...sqs.values()].reduce((a, b) => a + b, 0);
  const keeper = sumKeepers(reports.map((r) => r.keeper));
  const first = (k: string) => Math.min(...reports.map((r) => r.milestones[k] ?? Infinity));
  const since = (k: string) => (first(k) - t0).toFixed(0);
  const where = PROCS === undefined ? 'in one process (--procs K to spread them)' : `router and SQS server in a process each, runners over ${PROCS} process(es)`;
  console.log(`rollout: ${TASKS} task(s) of ${N} nodes sharing one budget, limit ${LIMIT}, sleep ${SECONDS}s, ${where}, ${values.cold ? 'cold router (first rollout since it started)' : 'warm router (after a noop rollout; --cold to skip it)'} -> task ${m.states.join(', ')}`);
  if (m.warmUpMs !== undefined) console.log(`warm-up             ${(m.warmUpMs / 1000).toFixed(1)} s  (noop over every node, limit ${N}: all of them at once; not measured)`);
  console.log(`machine             ${os.cpus().length} cores, load average ${m.load.map((l) => l.toFixed(2)).join(' ')} at submit; node ${process.version}`);
  console.log(`makespan            ${makespan.toFixed(2)} s`);
  console.log(`ideal               ${ideal.toFixed(2)} s  (ceil(tasks*N/limit)*seconds)`);
  console.log(`ratio               ${(makespan / ideal).toFixed(3)}`);
  console.log(`max concurrency     ${o.max} (limit ${LIMIT}; ${events.length} probe events)`);
  // FIFO handoffs alone mislead when few slots are busy: say how much of the allowed concurrency was used.
  console.log(`mean concurrency    ${(busyMs(events) / (tEnd - t0)).toFixed(1)} (${((busyMs(events) / (LIMIT * (tEnd - t0))) * 100).toFixed(0)} % of limit x makespan)`);
  if (o.breaches.length > 0) {
    const b = o.breaches[0];
    console.log(`!!! LIMIT EXCEEDED  ${o.breaches.length} time(s): first ${b?.node} began as node ${b?.concurrent} of ${LIMIT}, ${b?.afterLastEndMs.toFixed(3)} ms after the last post_check end (the processes' clocks agree to well under a millisecond)`);
    process.exitCode = 1;
  }
  console.log(`submit -> 1st start ${((events[0]?.t ?? t0) - t0).toFixed(0)} ms  (first node WAITING +${since('node WAITING')} ms, first grant +${since('granted')} ms, STARTED +${since('node STARTED')} ms; fan-out done +${since('routed')} ms)`);
  console.log(`limit-th start      +${o.filledAt === undefined ? '?' : (o.filledAt - t0).toFixed(0)} ms  (${Math.min(LIMIT, N * TASKS)} nodes started: the first wave full if no slot was reused before; each slot then runs its share in turn)`);
  console.log(`last end -> final   ${(tEnd - (events.at(-1)?.t ?? tEnd)).toFixed(0)} ms`);
  console.log(`handoff p50         ${pct(o.handoffs, 50).toFixed(1)} ms`);
  console.log(`handoff p99         ${pct(o.handoffs, 99).toFixed(1)} ms  (${o.handoffs.length} handoffs)`);
  // One line per process (in-process mode: one process with several hosts).
  const byPid = new Map<number, HostReport[]>();
  for (const r of reports) byPid.set(r.pid, [...(byPid.get(r.pid) ?? []), r]);
  const window = tEnd - t0;
  for (const group of byPid.values()) {
    const r = group[0] as HostReport;
    const label = group.map((g) => g.label).join('+');
    console.log(`process ${label.padEnd(11)} event loop p50 ${r.loop.p50.toFixed(1)} ms, p99 ${r.loop.p99.toFixed(1)} ms, max ${r.loop.max.toFixed(1)} ms; CPU ${(r.cpuMs / 1000).toFixed(1)} s (${((r.cpuMs / window) * 100).toFixed(0)} % of a core); RSS ${r.rssMiB.toFixed(0)} MiB`);
  }
  for (const r of reports) {
    const total = Object.values(r.zk.requests).reduce((a, b) => a + b, 0);
    if (total === 0) continue;
    const kinds = Object.entries(r.zk.requests).sort((a, b) => b[1] - a[1]);
    const mean = kinds.map(([k, n]) => `${k} ${((r.zk.waitMs[k] ?? 0) / n).toFixed(1)}`).join(', ');
    const failed = Object.entries(r.zk.failures).map(([k, n]) => `${k} ${n}`).join(', ');
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(`zk from ${r.label.padEnd(11)} ${total} requests (${kinds.map(([k, n]) => `${k} ${n}`).join(', ')}); ${mib(r.zk.bytesWritten)} MiB written, ${mib(r.zk.bytesRead)} MiB read; mean wait ms: ${mean}; failed: ${failed || 'none'}`);
  }
  // Per node of the rollout, over every runner host: which records the runners (and their keepers) ask for.
  const runnerRecords = new Map<string, number>();
  for (const r of reports) if (r.label !== 'router' && r.label !== 'sqs') addCounts(runnerRecords, r.zk.byRecord);
  const perNode = [...runnerRecords.entries()].sort((a, b) => b[1] - a[1]).filter(([, n]) => n / (N * TASKS) >= 0.05);
  console.log(`zk runners/node     ${([...runnerRecords.values()].reduce((a, b) => a + b, 0) / (N * TASKS)).toFixed(1)} requests: ${perNode.map(([k, n]) => `${k} ${(n / (N * TASKS)).toFixed(2)}`).join(', ')}`);
  // The task's progress counts (its shards, its progress record, its end markers): what a node's end costs to
  // count and settle. (A task recorded before the markers lists its shards to settle: "children progress".)
  const progressFailures = new Map<string, number>();
  for (const r of reports) if (r.label !== 'router' && r.label !== 'sqs') addCounts(progressFailures, r.zk.failures);
  const per = (n: number) => (n / (N * TASKS)).toFixed(2);
  const count = (m: Map<string, number>, ...keys: string[]) => keys.reduce((a, k) => a + (m.get(k) ?? 0), 0);
  const shardReads = count(runnerRecords, 'get progress shard');
  const recordReads = count(runnerRecords, 'get progress');
  const listings = count(runnerRecords, 'children ended', 'exists ended', 'children progress');
  console.log(
    `progress/node end   ${per(shardReads + recordReads + listings)} requests (shard reads ${per(shardReads)}, progress record reads ${per(recordReads)}, end marker listings ${per(listings)}); ` +
      `lost races: shard ${per(count(progressFailures, 'multi BAD_VERSION on progress shard'))}, progress record ${per(count(progressFailures, 'multi BAD_VERSION on progress'))}, settling ${per(count(progressFailures, 'multi BAD_VERSION on ended'))}`,
  );
  console.log(`process zookeeper   CPU ${(m.zkCpu / 1000).toFixed(1)} s (${((m.zkCpu / window) * 100).toFixed(0)} % of a core)`);
  // The currency on a shared machine: CPU of every process (ZooKeeper's included) per node of the rollout.
  const processCpu = [...byPid.values()].reduce((sum, group) => sum + (group[0]?.cpuMs ?? 0), 0);
  console.log(`CPU per node        ${((processCpu + m.zkCpu) / (N * TASKS)).toFixed(1)} ms over every process (ZooKeeper ${(m.zkCpu / (N * TASKS)).toFixed(1)} ms of it)`);
  const leaders = reports.filter((r) => r.leaders > 0).map((r) => r.label);
  console.log(`budget keeper       ${keeper.grants} grants in ${keeper.rounds} rounds: ${(keeper.reads / Math.max(1, keeper.grants)).toFixed(1)} reads and ${(keeper.writes / Math.max(1, keeper.grants)).toFixed(2)} writes per grant (${keeper.conflicts} conflicts); leader in ${leaders.join(', ') || 'none'}; gate up to ${(m.gateMax / 1024).toFixed(1)} KiB (rewritten each round that grants), waiting list up to ${(m.waitingMax / 1024).toFixed(1)} KiB (at most once a second), sampled each second; a waiter: 1 create, 1 watched read, 1 read when woken`);
  console.log(`sqs requests/node   ${(sqsTotal / N).toFixed(2)}  (${sqsTotal} during the rollout: ${[...sqs.entries()].map(([k, v]) => `${k} ${v}`).join(', ')})`);
  if (m.states.some((s) => s !== 'succeeded')) process.exitCode = 1;
}
