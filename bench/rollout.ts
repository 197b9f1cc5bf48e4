// Rollout benchmark: N runner instances (each with its own ZooKeeper session and SQS client, as separate
// processes would have) and one router, against a real ZooKeeper server and the SQS-protocol server on
// loopback; one rollout of a sleep action. Prints makespan against the ideal ceil(N/limit)·seconds, the
// largest concurrency observed, slot handoff latency (a slot's release → the next node's pre_check
// start) and SQS requests per node.
//
// With --tasks T, T tasks of the same nodes and limit run side by side: they share the cluster's budget (each
// task's limit counts every task's disrupted nodes), so the ideal is ceil(T·N/limit)·seconds. It also prints the
// budget keeper's ZooKeeper reads and writes per grant.
//
//   npm run bench:rollout -- --nodes 100 --limit 10 --seconds 1 [--tasks 2] [--cold]
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { defineAction } from '../actions/action.js';
import { builtinRegistry } from '../actions/builtin.js';
import { abortableSleep } from '../actions/sleep.js';
import { ExplicitDiscovery } from '../core/discovery/discovery.js';
import { emitTask } from '../core/task/emit.js';
import { silentLogger } from '../core/logger.js';
import { queueNames } from '../core/queue/queue-names.js';
import { SqsWorkQueue } from '../core/queue/sqs-work-queue.js';
import { parseTaskSpec } from '../core/task/task-spec.js';
import { TaskStore, TaskWatch } from '../core/task/task-store.js';
import { FINAL_TASK_STATES, newTaskId } from '../core/task/task.js';
import { ZkCoordinator } from '../core/coordination/zk-coordinator.js';
import { Router } from '../router/router.js';
import { Runner } from '../runner/runner.js';
import { startSqsServer } from '../test/support/sqs-server.js';
import { startZkServer } from '../test/support/zk-server.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100' },
    limit: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '1' },
    cold: { type: 'boolean', default: false },
    tasks: { type: 'string', default: '1' },
  },
});
const TASKS = Number(values.tasks);
if (!(Number.isInteger(TASKS) && TASKS >= 1 && TASKS <= 10)) throw new Error('--tasks must be 1-10');
const N = Number(values.nodes);
const LIMIT = Number(values.limit);
const SECONDS = Number(values.seconds);
if (!(N >= 1 && LIMIT >= 1 && SECONDS >= 0)) throw new Error('usage: --nodes N --limit L --seconds S [--cold]');

interface Ev {
  node: string;
  kind: 'start' | 'end';
  t: number;
}
const events: Ev[] = [];
const benchSleep = defineAction({
  name: 'bench-sleep',
  version: 1,
  description: 'sleep, recording pre_check start and post_check end',
  args: z.strictObject({ seconds: z.number() }),
  preCheck: async (ctx) => void events.push({ node: ctx.node, kind: 'start', t: performance.now() }),
  execute: (ctx) => abortableSleep(ctx.args.seconds * 1000, ctx.signal),
  postCheck: async (ctx) => void events.push({ node: ctx.node, kind: 'end', t: performance.now() }),
});

const requests = new Map<string, number>();
function countingClient(endpoint: string): SQSClient {
  const c = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' }, useQueueUrlAsEndpoint: false });
  c.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName ?? 'unknown');
      requests.set(op, (requests.get(op) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countRequests' },
  );
  return c;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/**
 * Waits, woken by watches, until the task reaches a final state; returns it. Bounded by `timeoutMs`. Not
 * cli/wait.ts's waitForTask: that one lists every node record on each change to print progress, load that
 * would land on the event loop being measured.
 */
async function waitFinal(store: TaskStore, taskId: string, timeoutMs: number): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  const watch = new TaskWatch(store, taskId);
  try {
    for (;;) {
      await watch.start();
      const state = (await store.getTask(taskId))?.value.state ?? 'routing';
      if (FINAL_TASK_STATES.includes(state)) return state;
      if (performance.now() > deadline) throw new Error(`task ${taskId} did not finish within ${timeoutMs} ms (${state})`);
      await watch.next(1000);
    }
  } finally {
    watch.stop();
  }
}

const zk = await startZkServer();
const sqs = await startSqsServer();
const root = '/bench';
const names = queueNames('bench');
const cluster = 'bench:cluster';
const nodes = Array.from({ length: N }, (_, i) => `node-${String(i + 1).padStart(3, '0')}`);
const registry = builtinRegistry({ extra: [benchSleep] });
const sessions: ZkCoordinator[] = [];
const clients: SQSClient[] = [];
const session = async () => {
  const s = await ZkCoordinator.connect({ connectionString: zk.connectionString, sessionTimeoutMs: 10_000 });
  sessions.push(s);
  return s;
};
const queue = () => {
  const c = countingClient(sqs.endpoint);
  clients.push(c);
  return new SqsWorkQueue({ sqs: c, endpoint: sqs.endpoint });
};

try {
  const admin = queue();
  // Production queues exist before a rollout (terraform, or the first fan-out); create them up front so
  // the runners' first polls find them.
  const spec = { deadLetter: names.clusterDlq(cluster), maxReceiveCount: 10, visibilityTimeoutSec: 60 };
  await admin.ensureQueue({ name: names.cluster(cluster), ...spec });
  for (const n of nodes) await admin.ensureQueue({ name: names.node(cluster, n), ...spec });
  const store = new TaskStore(await session(), root);
  await store.init();
  const router = new Router({ queue: queue(), store: new TaskStore(await session(), root), names, registry, discovery: { explicit: new ExplicitDiscovery() }, logger: silentLogger });
  await router.start();
  const runners = await Promise.all(
    nodes.map(async (node) => new Runner({ cluster, node, queue: queue(), store: new TaskStore(await session(), root), names, registry, logger: silentLogger })),
  );
  // Start in small groups, as a fleet's runners come up over time rather than in one burst of connections.
  for (let i = 0; i < runners.length; i += 10) await Promise.all(runners.slice(i, i + 10).map((r) => r.start()));
  // The fleet is up when every runner is polling both its queues (its queue URLs resolved): submitting
  // before that would measure the runners' start-up, not the rollout.
  const polling = () => requests.get('ReceiveMessageCommand') ?? 0;
  for (let waited = 0; polling() < 2 * N; waited += 50) {
    if (waited > 120_000) throw new Error(`only ${polling()} of ${2 * N} receives started after 120 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // Warm: routers are long-lived, and a router that has sent to a queue before knows it exists. Unless
  // --cold, one quick noop rollout over every node goes first (not measured), so the figures are a steady
  // state's, not those of the first rollout after a router start (one CreateQueue per node queue more).
  if (!values.cold) {
    const warm = await emitTask(admin, names, parseTaskSpec({ name: 'warm-up', action: 'noop', cluster, nodes, limit: N }), { kind: 'cli', user: 'bench' });
    await waitFinal(store, warm.taskId, 120_000);
  }
  requests.clear();

  // Milestones of the first wave: where the time from submit to the first start goes.
  const firstAt = new Map<string, number>();
  const mark = (what: string) => void (firstAt.has(what) || firstAt.set(what, performance.now()));
  // Only the measured task's events: the router may report the warm-up's fan-out after that task ended.
  const measured = new Set<string>();
  router.on('routed', (e: { taskId: string }) => void (measured.has(e.taskId) && mark('routed')));
  for (const r of runners) r.on('node', (e: { taskId: string; state: string }) => void (measured.has(e.taskId) && mark(`node ${e.state}`)));
  const keeperBefore = runners.map((r) => ({ ...r.budgetKeeper.stats }));

  // Everything here shares one event loop: a stall of the loop shows up as handoff latency.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < TASKS; i++) {
    const benchSpec = parseTaskSpec({ name: `bench-${i + 1}`, action: 'bench-sleep', cluster, nodes, limit: LIMIT, args: { seconds: SECONDS } });
    const id = newTaskId();
    measured.add(id);
    ids.push((await emitTask(admin, names, benchSpec, { kind: 'cli', user: 'bench' }, id)).taskId);
  }
  const states = await Promise.all(ids.map((id) => waitFinal(store, id, (Math.ceil((TASKS * N) / LIMIT) * SECONDS + 180) * 1000)));
  const state = states.join(', ');
  const tEnd = performance.now();
  loop.disable();
  const makespan = (tEnd - t0) / 1000;
  const sqsDuring = [...requests.entries()];

  // Concurrency and handoff from the probe events.
  events.sort((a, b) => a.t - b.t);
  let cur = 0;
  let max = 0;
  const handoffs: number[] = [];
  const releases: number[] = [];
  for (const e of events) {
    if (e.kind === 'start') {
      cur++;
      max = Math.max(max, cur);
      const r = releases.shift();
      if (r !== undefined) handoffs.push(e.t - r);
    } else {
      cur--;
      releases.push(e.t);
    }
  }
  handoffs.sort((a, b) => a - b);
  const ideal = Math.ceil((TASKS * N) / LIMIT) * SECONDS;
  const keeper = runners.reduce(
    (sum, r, i) => {
      const b = keeperBefore[i] ?? { rounds: 0, reads: 0, writes: 0, grants: 0, conflicts: 0 };
      const st = r.budgetKeeper.stats;
      return { rounds: sum.rounds + st.rounds - b.rounds, reads: sum.reads + st.reads - b.reads, writes: sum.writes + st.writes - b.writes, grants: sum.grants + st.grants - b.grants, conflicts: sum.conflicts + st.conflicts - b.conflicts };
    },
    { rounds: 0, reads: 0, writes: 0, grants: 0, conflicts: 0 },
  );
  const total = sqsDuring.reduce((s, [, c]) => s + c, 0);
  await Promise.all(runners.map((r) => r.stop()));
  await router.stop();
  console.log(`rollout: ${TASKS} task(s) of ${N} nodes sharing one budget, limit ${LIMIT}, sleep ${SECONDS}s, ${values.cold ? 'cold router (first rollout since it started)' : 'warm router (after a noop rollout; --cold to skip it)'} -> task ${state}`);
  console.log(`makespan            ${makespan.toFixed(2)} s`);
  console.log(`ideal               ${ideal.toFixed(2)} s  (ceil(tasks*N/limit)*seconds)`);
  console.log(`ratio               ${(makespan / ideal).toFixed(3)}`);
  console.log(`max concurrency     ${max} (limit ${LIMIT})`);
  const since = (k: string) => ((firstAt.get(k) ?? NaN) - t0).toFixed(0);
  console.log(`submit -> 1st start ${((events[0]?.t ?? t0) - t0).toFixed(0)} ms  (first node WAITING +${since('node WAITING')} ms, STARTED +${since('node STARTED')} ms; fan-out done +${since('routed')} ms)`);
  console.log(`last end -> final   ${(tEnd - (events.at(-1)?.t ?? tEnd)).toFixed(0)} ms`);
  console.log(`handoff p50         ${pct(handoffs, 50).toFixed(1)} ms`);
  console.log(`handoff p99         ${pct(handoffs, 99).toFixed(1)} ms  (${handoffs.length} handoffs)`);
  console.log(`event loop delay    p50 ${(loop.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms  (one process hosts every runner, the router and the SQS server)`);
  console.log(`budget keeper       ${keeper.grants} grants in ${keeper.rounds} rounds: ${(keeper.reads / Math.max(1, keeper.grants)).toFixed(1)} reads and ${(keeper.writes / Math.max(1, keeper.grants)).toFixed(2)} writes per grant (${keeper.conflicts} conflicts); a waiter: 1 create, 1 watched read, 1 read when woken`);
  console.log(`sqs requests/node   ${(total / N).toFixed(2)}  (${total} during the rollout: ${sqsDuring.map(([k, v]) => `${k.replace(/Command$/, '')} ${v}`).join(', ')})`);
} finally {
  await Promise.allSettled(sessions.map((s) => s.close()));
  for (const c of clients) c.destroy();
  await sqs.stop();
  await zk.stop();
}
