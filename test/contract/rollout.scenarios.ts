// End-to-end scenarios that every backend pair must pass: the in-memory one (test/unit) and real
// ZooKeeper + an SQS-protocol server (test/integration). They try to break the invariants of DESIGN.md
// (limit, no loss, fan-out once) rather than read the code.
import assert from 'node:assert/strict';
import { collectGarbage } from '../../core/task/cleaner.js';
import { DLQ_ATTR } from '../../core/queue/dead-letter.js';
import { deadLetterQueues, listDeadLetters, redriveDeadLetters } from '../../core/queue/dead-letters.js';
import { cancelTask, pauseTask, resumeTask } from '../../core/task/task-control.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { ExplicitDiscovery } from '../../core/discovery/discovery.js';
import { silentLogger } from '../../core/logger.js';
import { planTask } from '../../core/discovery/plan.js';
import { Supervisor } from '../../router/supervisor.js';
import { encodeTaskMessage, newTaskId } from '../../core/task/task.js';
import type { QueueMessage } from '../../core/queue/work-queue.js';
import { Harness, type Backend, type HarnessOptions } from '../support/harness.js';
import { InterleavedCoordinator, written } from '../support/interleave.js';
import { Probe } from '../support/probe.js';

export interface ScenarioSetup {
  /** Backends for one test; `root` is its fresh ZooKeeper root, to remove at cleanup. */
  backend: (root: string) => Promise<Backend>;
  zkRoot: () => string;
  queuePrefix: () => string;
  nodes: number;
  limit: number;
}

const nodeNames = (n: number) => Array.from({ length: n }, (_, i) => `n${String(i + 1).padStart(2, '0')}`);

/** Drains a queue (bounded), returning what was in it. */
async function drain(h: Harness, queue: string, expected: number, timeoutMs = 15_000): Promise<QueueMessage[]> {
  const got: QueueMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < expected && Date.now() < deadline) {
    const msgs = await h.queue.receive(queue, { max: 10, waitSec: 1, visibilitySec: 30 });
    got.push(...msgs);
  }
  return got;
}

/** Waits (bounded, re-checking on an interval) until every queue of the test is empty. */
async function queuesEmpty(h: Harness, timeoutMs = 10_000): Promise<Record<string, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await h.leftInQueues();
    if (Object.keys(left).length === 0 || Date.now() > deadline) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * One Harness per test on the suite's backends, with a fresh probe action, stopped after each test. Call it
 * inside a describe.
 */
function harnessPerTest(setup: ScenarioSetup, cluster: string) {
  let h: Harness | undefined;
  const env = {
    probe: new Probe(),
    async start(nodes: string[], extra: Partial<HarnessOptions> = {}): Promise<Harness> {
      env.probe = new Probe();
      const zkRoot = setup.zkRoot();
      h = new Harness({ backend: await setup.backend(zkRoot), cluster, nodes, zkRoot, queuePrefix: setup.queuePrefix(), actions: [env.probe.action()], visibilitySec: 4, ...extra });
      await h.start();
      return h;
    },
  };
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });
  return env;
}

export function rolloutScenarios(name: string, setup: ScenarioSetup): void {
  describe(`rollout scenarios: ${name}`, function () {
    this.timeout(120_000);
    const env = harnessPerTest(setup, 'cassandra:geo_counter');
    const start = (opts: { routers?: number; nodes?: string[] } = {}) => env.start(opts.nodes ?? nodeNames(setup.nodes), { routers: opts.routers ?? 1 });

    it(`rolls out to ${setup.nodes} nodes with limit ${setup.limit}: all succeed, the limit is reached and never exceeded, the queues end empty`, async () => {
      const h = await start();
      const taskId = await h.submit({ limit: setup.limit, args: { ms: 150 } });
      const { task, nodes } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');
      assert.equal(nodes.length, setup.nodes);
      for (const n of nodes) {
        assert.equal(n.state, 'SUCCEEDED', n.node);
        assert.equal(n.attempts, 1, n.node);
        assert.ok(n.startedAt && n.endedAt && n.startedAt <= n.endedAt, `${n.node} has start and end times`);
      }
      assert.equal(env.probe.maxConcurrency(taskId), setup.limit, 'concurrency reached the limit and never exceeded it');
      assert.deepEqual([...env.probe.executions(taskId).values()], new Array(setup.nodes).fill(1));
      assert.deepEqual(await queuesEmpty(h), {});
    });

    it('fans a task out once when two routers see it twice: each node executes once', async () => {
      const h = await start({ routers: 2, nodes: nodeNames(6) });
      let sent = 0;
      for (const r of h.routers) r.on('routed', (e) => (sent += e.nodes));
      const taskId = newTaskId();
      const body = encodeTaskMessage({ taskId, spec: h.spec({ limit: 2, args: { ms: 100 } }), emittedBy: { kind: 'cli', user: 'test' }, emittedAt: new Date().toISOString() });
      await h.queue.send(h.names.global, { body });
      await h.queue.send(h.names.global, { body });
      const { task } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');
      assert.equal(sent, 6, 'work items sent in all');
      for (const [node, count] of env.probe.executions(taskId)) assert.equal(count, 1, node);
      assert.equal(env.probe.executions(taskId).size, 6);
      assert.deepEqual(await queuesEmpty(h), {});
    });

    it('frees the slot of a killed runner: the others go on, and the node finishes when its runner is back', async () => {
      const h = await start({ nodes: nodeNames(6) });
      let killed!: () => void;
      const wasKilled = new Promise<void>((r) => (killed = r));
      let first = true;
      env.probe.onExecute = (node) => {
        if (node === 'n01' && first) {
          first = false;
          // Crash the runner while its action runs and it holds a slot.
          setImmediate(() => void h.runners.get('n01')?.kill().then(killed));
        }
      };
      const taskId = await h.submit({ limit: 1, args: { ms: 200 } });
      await wasKilled;
      // With limit 1, the others can only run if the dead runner's slot was freed.
      await h.waitFor(taskId, 'the other nodes to succeed', (nodes) => nodes.filter((n) => n.node !== 'n01').every((n) => n.state === 'SUCCEEDED'));
      const n01 = (await h.store.getNode(taskId, 'n01'))?.value;
      assert.equal(n01?.state, 'STARTED', 'the killed node is visibly in flight, not lost');
      await (await h.newRunner('n01')).start();
      const { task, nodes } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');
      const again = nodes.find((n) => n.node === 'n01');
      assert.equal(again?.state, 'SUCCEEDED');
      assert.equal(again?.attempts, 2);
      assert.match(again?.history[0]?.error ?? '', /interrupted/);
      assert.equal(env.probe.maxConcurrency(taskId), 1);
      assert.deepEqual(await queuesEmpty(h), {});
    });

    it('dead-letters bad input with a reason and keeps routing and running', async () => {
      const h = await start({ nodes: nodeNames(3) });
      const good = h.spec({ limit: 1, args: { ms: 20 } });
      const env = (spec: unknown) => JSON.stringify({ type: 'task', v: 1, task_id: newTaskId(), emitted_by: { kind: 'cli', user: 't' }, emitted_at: new Date().toISOString(), spec });
      const unknownActionId = newTaskId();
      const bad = [
        '{not json',
        JSON.stringify({ type: 'task' }),
        env({ name: 'x', action: 'sleep', cluster: 'c', nodes: ['a'], limit: 0 }),
        encodeTaskMessage({ taskId: unknownActionId, spec: { ...good, action: 'cassandra:explode' }, emittedBy: { kind: 'cli', user: 't' }, emittedAt: new Date().toISOString() }),
      ];
      for (const body of bad) await h.queue.send(h.names.global, { body });
      const taskId = await h.submit({ limit: 1, args: { ms: 20 } });
      await h.queue.ensureQueue({ name: h.names.node(h.o.cluster, 'n02'), deadLetter: h.names.clusterDlq(h.o.cluster), maxReceiveCount: 10, visibilityTimeoutSec: 5 });
      await h.queue.send(h.names.node(h.o.cluster, 'n02'), { body: '{"type":"work","v":1}' });
      const { task } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');

      const dead = await drain(h, h.names.globalDlq, bad.length);
      assert.equal(dead.length, bad.length, 'every bad task message is in the dead-letter queue');
      for (const m of dead) assert.ok((m.attributes[DLQ_ATTR.reason] ?? '').length > 0, `reason for ${m.body.slice(0, 40)}`);
      const reasons = dead.map((m) => m.attributes[DLQ_ATTR.reason]).join('\n');
      assert.match(reasons, /not JSON/);
      assert.match(reasons, /limit: must be a positive integer/);
      assert.match(reasons, /unknown action "cassandra:explode"/);
      const refused = await h.store.getTask(unknownActionId);
      assert.equal(refused?.value.state, 'failed', 'a refused task is recorded as failed, with its reason');
      assert.match(refused?.value.reason ?? '', /unknown action/);

      const deadWork = await drain(h, h.names.clusterDlq(h.o.cluster), 1);
      assert.equal(deadWork.length, 1);
      assert.match(deadWork[0]?.attributes[DLQ_ATTR.reason] ?? '', /not a valid work message/);
      assert.equal(deadWork[0]?.attributes[DLQ_ATTR.source], h.names.node(h.o.cluster, 'n02'));
    });

    it('retries a failing node with backoff and records each attempt with its error', async () => {
      const h = await start({ nodes: nodeNames(2) });
      env.probe.failUntil.set('n01', 2);
      const taskId = await h.submit({ limit: 1, retry: { count: 2, backoff: '50ms' }, args: { ms: 10 } });
      const { task, nodes } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');
      const n01 = nodes.find((n) => n.node === 'n01');
      assert.equal(n01?.state, 'SUCCEEDED');
      assert.equal(n01?.attempts, 3);
      assert.deepEqual(n01?.history.map((a) => Boolean(a.error)), [true, true, false]);
      assert.match(n01?.history[0]?.error ?? '', /probe told to fail attempt 1/);
      assert.deepEqual(await queuesEmpty(h), {});
    });

    it('dead-letters a node whose retries are exhausted and halts the task: no other node starts', async () => {
      const h = await start({ nodes: nodeNames(5) });
      for (const n of nodeNames(5)) env.probe.failUntil.set(n, 99);
      const taskId = await h.submit({ limit: 1, max_failures: 1, retry: { count: 1, backoff: '20ms' }, args: { ms: 10 } });
      const nodes = await h.waitFor(taskId, 'every node to settle after the halt', (ns, t) => t?.state === 'halted' && ns.every((n) => ['SUCCEEDED', 'DEAD', 'SKIPPED'].includes(n.state)));
      const task = (await h.store.getTask(taskId))?.value;
      assert.match(task?.reason ?? '', /circuit breaker: 1 failed node/);
      const dead = nodes.filter((n) => n.state === 'DEAD');
      assert.equal(dead.length, 1, 'exactly one node failed before the breaker opened');
      assert.equal(dead[0]?.attempts, 2);
      assert.equal(dead[0]?.history.filter((a) => a.error).length, 2, 'each attempt is recorded with its error');
      const skipped = nodes.filter((n) => n.state === 'SKIPPED');
      assert.equal(skipped.length, 4);
      for (const n of skipped) {
        assert.match(n.reason ?? '', /halted/);
        assert.equal(env.probe.executions(taskId).get(n.node), undefined, `${n.node} never ran after the halt`);
      }
      const letters = await drain(h, h.names.clusterDlq(h.o.cluster), 1);
      assert.equal(letters.length, 1);
      assert.equal(letters[0]?.attributes[DLQ_ATTR.node], dead[0]?.node);
      assert.equal(letters[0]?.attributes[DLQ_ATTR.taskId], taskId);
      assert.equal(letters[0]?.attributes[DLQ_ATTR.attempts], '2');
      assert.match(letters[0]?.attributes[DLQ_ATTR.reason] ?? '', /probe told to fail/);
    });
  });
}

/** Operator controls and failure handling, on every backend pair. */
export function controlScenarios(name: string, setup: ScenarioSetup): void {
  describe(`control scenarios: ${name}`, function () {
    this.timeout(120_000);
    const env = harnessPerTest(setup, 'kafka:events');
    const start = (nodes: string[], wrapSession?: HarnessOptions['wrapSession']) => env.start(nodes, wrapSession ? { wrapSession } : {});

    it('cancel: the action in flight gets its abort signal, no further node starts, the task ends cancelled', async () => {
      const h = await start(nodeNames(5));
      let running!: () => void;
      const isRunning = new Promise<void>((r) => (running = r));
      env.probe.onExecute = () => running();
      const taskId = await h.submit({ limit: 1, args: { ms: 60_000 } });
      await isRunning;
      await cancelTask(h.store, taskId, 'oncall');
      const nodes = await h.waitFor(taskId, 'every node to end after the cancel', (ns) => ns.every((n) => n.state === 'SKIPPED'));
      const task = (await h.store.getTask(taskId))?.value;
      assert.equal(task?.state, 'cancelled');
      assert.equal(task?.cancelled?.by, 'oncall');
      const ran = [...env.probe.executions(taskId).keys()];
      assert.equal(ran.length, 1, 'only the node in flight had started');
      const inFlight = nodes.find((n) => n.node === ran[0]);
      assert.match(inFlight?.reason ?? '', /cancelled during attempt 1/);
      assert.match(inFlight?.error ?? '', /abort|cancel/i);
      for (const n of nodes.filter((x) => x.node !== ran[0])) assert.match(n.reason ?? '', /cancelled by oncall/);
      assert.deepEqual(await queuesEmpty(h), {});
    });

    it('pause stops admission without losing place; resume goes on', async () => {
      const h = await start(nodeNames(4));
      let first!: () => void;
      const started = new Promise<void>((r) => (first = r));
      env.probe.onExecute = () => first();
      const taskId = await h.submit({ limit: 1, args: { ms: 300 } });
      await started;
      await pauseTask(h.store, taskId, 'oncall');
      // The node in flight finishes; nothing else starts while paused.
      const paused = await h.waitFor(taskId, 'the others to wait, paused', (ns) => ns.filter((n) => n.state === 'SUCCEEDED').length === 1 && ns.filter((n) => n.state === 'WAITING' && /paused by oncall/.test(n.reason ?? '')).length === 3);
      assert.equal(paused.filter((n) => n.state === 'STARTED').length, 0);
      assert.equal(env.probe.executions(taskId).size, 1);
      await resumeTask(h.store, h.queue, h.names, taskId);
      const { task, nodes } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');
      assert.ok(nodes.every((n) => n.state === 'SUCCEEDED' && n.attempts === 1));
      assert.equal(env.probe.maxConcurrency(taskId), 1);
    });

    /** A harness whose runner for `node` writes its start only after `step` ran (put between its last look at the task and its start). */
    async function startRacing(nodes: string[], node: string, step: () => Promise<unknown>) {
      let hook: { readonly fired: boolean } | undefined;
      const h = await start(nodes, (c, who) => {
        if (who !== `runner:${node}`) return c;
        const ic = new InterleavedCoordinator(c);
        hook = ic.once((call) => call.method === 'transaction' && call.ops.some((op) => written(op)?.state === 'STARTED'), async () => void (await step()));
        return ic;
      });
      return { h, fired: () => hook?.fired ?? false };
    }

    it('a cancel that lands after the runner last looked but before the node starts: the node never starts', async () => {
      let taskId = '';
      const { h, fired } = await startRacing(['n1'], 'n1', () => cancelTask(h.store, taskId, 'oncall'));
      taskId = await h.submit({ limit: 1, args: { ms: 10 } });
      const nodes = await h.waitFor(taskId, 'the node to end after the cancel', (ns) => ns[0]?.state === 'SKIPPED');
      assert.ok(fired(), 'the cancel went in between');
      assert.equal((await h.store.getTask(taskId))?.value.state, 'cancelled');
      assert.match(nodes[0]?.reason ?? '', /cancelled by oncall/);
      assert.equal(nodes[0]?.state, 'SKIPPED');
      assert.equal(nodes[0]?.attempts, 0, 'no attempt was started');
      assert.equal(env.probe.executions(taskId).size, 0, 'the action never ran');
    });

    it('a pause that lands just before the node starts: the node waits, and runs once after resume', async () => {
      let taskId = '';
      const { h, fired } = await startRacing(['n1'], 'n1', () => pauseTask(h.store, taskId, 'oncall'));
      taskId = await h.submit({ limit: 1, args: { ms: 10 } });
      await h.waitFor(taskId, 'the node to wait, paused', (ns) => ns[0]?.state === 'WAITING' && /paused by oncall/.test(ns[0].reason ?? ''));
      assert.ok(fired());
      assert.equal(env.probe.executions(taskId).size, 0);
      await resumeTask(h.store, h.queue, h.names, taskId, 'oncall');
      const { task, nodes } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');
      assert.equal(nodes[0]?.attempts, 1);
      assert.equal(env.probe.executions(taskId).get('n1'), 1);
    });

    it('resume after a halt queues the skipped nodes again with a fresh failure budget', async () => {
      const h = await start(nodeNames(4));
      let firstNode: string | undefined;
      env.probe.onExecute = (node) => {
        firstNode ??= node;
      };
      // Whichever node goes first fails once, for good (no retries): the breaker halts the task.
      env.probe.failWhere = (node, attempt) => node === firstNode && attempt === 1;
      const taskId = await h.submit({ limit: 1, max_failures: 1, args: { ms: 10 } });
      await h.waitFor(taskId, 'the halt to settle', (ns, t) => t?.state === 'halted' && ns.every((n) => ['DEAD', 'SKIPPED'].includes(n.state)));
      const r = await resumeTask(h.store, h.queue, h.names, taskId);
      assert.equal(r.requeued.length, 3);
      const { task, nodes } = await h.waitFor(taskId, 'the resumed task to end', (_ns, t) => t?.state === 'failed' || t?.state === 'succeeded').then(async (ns) => ({ task: (await h.store.getTask(taskId))?.value, nodes: ns }));
      // The dead node stays dead (redrive it to retry), so the task fails, but every other node ran.
      assert.equal(task?.state, 'failed');
      assert.deepEqual(nodes.map((n) => n.state).sort(), ['DEAD', 'SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
      assert.equal(task?.breakerBase, 1);
      // Redriving that node takes it out of the breaker's base again (it is no longer dead), and it runs.
      const queues = await deadLetterQueues(h.queue, h.names, h.o.cluster);
      assert.equal((await redriveDeadLetters(h.queue, h.store, queues, { taskId }, 'oncall')).length, 1);
      const again = await h.waitFinal(taskId);
      assert.equal(again.task.state, 'succeeded');
      assert.equal(again.task.breakerBase, 0);
      assert.equal(env.probe.executions(taskId).get(firstNode ?? ''), 2);
    });

    it('times an attempt out: the action is aborted and the attempt fails with a timeout', async () => {
      const h = await start(nodeNames(1));
      const taskId = await h.submit({ limit: 1, timeout: '300ms', args: { ms: 60_000 } });
      const { task, nodes } = await h.waitFinal(taskId);
      // Its only node died: nothing was left to halt, so the task failed (not "halted by the circuit breaker").
      assert.equal(task.state, 'failed');
      assert.equal(task.reason, '1 of 1 nodes did not succeed (1 dead, 0 skipped)');
      assert.equal(nodes[0]?.state, 'DEAD');
      assert.match(nodes[0]?.error ?? '', /TIMEOUT: timed out after/);
    });

    it('redrives a dead node from the dead-letter queue with a fresh attempt budget', async () => {
      const h = await start(nodeNames(2));
      env.probe.failWhere = (node, attempt) => node === 'n01' && attempt <= 2;
      const taskId = await h.submit({ limit: 2, max_failures: 2, retry: { count: 1, backoff: '10ms' }, args: { ms: 10 } });
      const first = await h.waitFinal(taskId);
      assert.equal(first.task.state, 'failed');
      const queues = await deadLetterQueues(h.queue, h.names, h.o.cluster);
      const letters = await listDeadLetters(h.queue, queues, { taskId });
      assert.equal(letters.length, 1);
      assert.equal(letters[0]?.node, 'n01');
      assert.equal(letters[0]?.attempts, 2);
      assert.equal((await listDeadLetters(h.queue, queues, { taskId })).length, 1, 'listing does not consume');
      const done = await redriveDeadLetters(h.queue, h.store, queues, { taskId, node: 'n01' }, 'oncall');
      assert.equal(done.length, 1);
      const { task, nodes } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');
      const n01 = nodes.find((n) => n.node === 'n01');
      assert.equal(n01?.state, 'SUCCEEDED');
      assert.equal(n01?.attempts, 3);
      assert.equal((await listDeadLetters(h.queue, queues)).length, 0);
    });

    it('gc removes finished tasks older than the retention and keeps the rest', async () => {
      const h = await start(nodeNames(2));
      const taskId = await h.submit({ limit: 2, args: { ms: 10 } });
      await h.waitFinal(taskId);
      const kept = await collectGarbage(h.store, 60_000);
      assert.deepEqual(kept.removed, []);
      const r = await collectGarbage(h.store, 0, Date.now() + 1000);
      assert.deepEqual(r.removed, [taskId]);
      assert.equal(await h.store.getTask(taskId), undefined);
      assert.deepEqual((await h.store.coordinator.children(h.store.paths.tombstones)) ?? [], []);
      assert.equal(await h.store.coordinator.exists(h.store.paths.taskLeases(h.o.cluster, taskId)), undefined);
    });
  });
}

/** Targets: live runners, windows, plans. */
export function targetScenarios(name: string, setup: ScenarioSetup): void {
  describe(`target scenarios: ${name}`, function () {
    this.timeout(60_000);
    const env = harnessPerTest(setup, 'es:logs');
    const start = (nodes: string[], clock?: { now(): number; sleep: Clock['sleep'] }) => env.start(nodes, clock ? { clock, windowRecheckMs: 50 } : {});

    it('a target with no live runner is recorded as such, then DEAD after the grace period, and counts toward max_failures', async () => {
      const h = await start(['n01', 'n02']);
      const taskId = await h.submit({ nodes: ['n01', 'n02', 'ghost'], limit: 2, max_failures: 1, args: { ms: 10 } });
      const nodes = await h.waitFor(taskId, 'the live nodes to finish', (ns) => ns.filter((n) => n.state === 'SUCCEEDED').length === 2);
      const ghost = nodes.find((n) => n.node === 'ghost');
      assert.equal(ghost?.state, 'QUEUED');
      assert.match(ghost?.reason ?? '', /no live runner/);
      let now = Date.now();
      const supervisor = new Supervisor({ store: h.store, queue: h.queue, names: h.names, logger: silentLogger, graceMs: 60_000, now: () => now });
      assert.deepEqual(await supervisor.sweep(), [], 'nothing before the grace period');
      now += 61_000;
      assert.deepEqual(await supervisor.sweep(), [{ taskId, node: 'ghost' }]);
      const task = (await h.store.getTask(taskId))?.value;
      // The ghost was the last node: max_failures is reached with nothing left to hold back, so the task failed.
      assert.equal(task?.state, 'failed');
      assert.equal(task?.reason, '1 of 3 nodes did not succeed (1 dead, 0 skipped)');
      const after = (await h.store.getNode(taskId, 'ghost'))?.value;
      assert.equal(after?.state, 'DEAD');
      const letters = await listDeadLetters(h.queue, [h.names.clusterDlq(h.o.cluster)], { taskId });
      assert.equal(letters.length, 1);
      assert.equal(letters[0]?.code, 'NO_RUNNER');
    });

    it('starts no node outside its maintenance window; nodes wait visibly and start when it opens', async () => {
      let now = Date.parse('2026-11-24T01:59:00Z'); // a Tuesday, one minute before the window
      const clock = { now: () => now, sleep: systemClock.sleep };
      const h = await start(['n01', 'n02'], clock);
      const taskId = await h.submit({ limit: 2, args: { ms: 10 }, window: { days: ['tue'], start: '02:00', end: '05:00', timezone: 'UTC' } });
      const waiting = await h.waitFor(taskId, 'both nodes to wait for the window', (ns) => ns.length === 2 && ns.every((n) => n.state === 'WAITING' && /outside its maintenance window/.test(n.reason ?? '')));
      assert.equal(waiting.length, 2);
      assert.equal(env.probe.executions(taskId).size, 0);
      now = Date.parse('2026-11-24T02:00:30Z');
      const { task } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');
    });

    it('plans without enqueuing: targets, limit and budget as numbers, live runners, held slots', async () => {
      const h = await start(['n01', 'n02', 'n03']);
      let hold!: () => void;
      const released = new Promise<void>((r) => (hold = r));
      let inFlight!: () => void;
      const running = new Promise<void>((r) => (inFlight = r));
      env.probe.onExecute = async () => {
        inFlight();
        await released;
      };
      const busy = await h.submit({ nodes: ['n01'], limit: 1, args: { ms: 1 } });
      await running;
      const spec = h.spec({ nodes: ['n01', 'n02', 'n03', 'n04'], limit: '50%', max_failures: '25%' });
      const before = await h.leftInQueues();
      const plan = await planTask(spec, { explicit: new ExplicitDiscovery() }, h.store);
      assert.deepEqual(plan.targets, ['n01', 'n02', 'n03', 'n04']);
      assert.equal(plan.limit, 2);
      assert.equal(plan.maxFailures, 1);
      assert.deepEqual(plan.live, ['n01', 'n02', 'n03']);
      assert.deepEqual(plan.notLive, ['n04']);
      assert.deepEqual(plan.slots.map((s) => [s.node, s.taskId, s.holding]), [['n01', busy, true]]);
      assert.deepEqual(await h.leftInQueues(), before, 'nothing was enqueued');
      hold();
      assert.equal((await h.waitFinal(busy)).task.state, 'succeeded');
    });
  });
}
