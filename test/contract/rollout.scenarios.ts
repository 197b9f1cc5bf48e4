// End-to-end scenarios that every backend pair must pass: the in-memory one (test/unit) and real
// ZooKeeper + an SQS-protocol server (test/integration). They try to break the invariants of DESIGN.md
// (limit, no loss, fan-out once) rather than read the code.
import { BudgetStore } from '../../core/budget/budget-store.js';
import { waitForGrant } from '../../core/budget/grant-waiter.js';
import { parsePolicy } from '../../core/budget/policy.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { collectGarbage } from '../../core/task/cleaner.js';
import { DLQ_ATTR } from '../../core/queue/dead-letter.js';
import { deadLetterQueues, listDeadLetters, redriveDeadLetters } from '../../core/queue/dead-letters.js';
import { cancelTask, pauseTask, resumeTask } from '../../core/task/task-control.js';
import { systemClock, type Clock } from '../../core/clock.js';
import { ExplicitDiscovery } from '../../core/discovery/discovery.js';
import { delay } from '../../core/delay.js';
import { silentLogger } from '../../core/logger.js';
import { planTask } from '../../core/discovery/plan.js';
import { Supervisor } from '../../router/supervisor.js';
import { encodeTaskMessage, encodeWorkMessage, newTaskId } from '../../core/task/task.js';
import type { QueueMessage, WorkQueue } from '../../core/queue/work-queue.js';
import type { CreateMode, TxOp } from '../../core/coordination/coordinator.js';
import { Harness, type Backend, type HarnessOptions } from '../support/harness.js';
import { InterleavedCoordinator, written } from '../support/interleave.js';
import { Probe } from '../support/probe.js';
import { waitUntil } from '../support/wait-until.js';

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
 * Kills `node`'s runner (as a crash or a reboot would) while its action's first execute runs under its grant;
 * resolves once it is dead.
 */
function killDuringFirstExecute(h: Harness, probe: Probe, node: string): Promise<void> {
  return new Promise<void>((killed) => {
    let first = true;
    probe.onExecute = (n) => {
      if (n === node && first) {
        first = false;
        setImmediate(() => void h.runners.get(node)?.kill().then(killed));
      }
    };
  });
}

/**
 * One Harness per test on the suite's backends, with a fresh probe action, stopped after each test. Call it
 * inside a describe.
 */
/** `target` with some of its methods replaced (the rest still called on `target` itself). */
function override<T extends object>(target: T, methods: Partial<T>): T {
  return new Proxy(target, {
    get(t, key, receiver) {
      if (Object.hasOwn(methods, key)) return (methods as Record<string | symbol, unknown>)[key];
      const v = Reflect.get(t, key, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

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
      // The record keeps the node list once, in the target chunks (every runner reads the record): a message
      // under the same id that differs only in its node list is another task, refused, not taken for a copy.
      const rec = await h.store.getTask(taskId);
      assert.deepEqual(rec?.value.spec.nodes, []);
      assert.deepEqual(await h.store.getTargets(taskId), nodeNames(6));
      let rejected = '';
      for (const r of h.routers) r.on('rejected', (e) => (rejected = e.reason));
      const parsed = JSON.parse(body) as { spec: { nodes: string[] } };
      await h.queue.send(h.names.global, { body: JSON.stringify({ ...parsed, spec: { ...parsed.spec, nodes: [...parsed.spec.nodes].reverse() } }) });
      await waitUntil('the look-alike refused', async () => rejected !== '');
      assert.match(rejected, /already used by a different task/);
    });

    it('keeps the grant of a killed runner (a reboot): no other node starts until it is back and its post_check passed', async () => {
      const h = await start({ nodes: nodeNames(6) });
      // Crash the runner while its action runs under its grant, as a reboot would.
      const wasKilled = killDuringFirstExecute(h, env.probe, 'n01');
      const taskId = await h.submit({ limit: 1, args: { ms: 200 } });
      await wasKilled;
      // The grant outlives the runner's session: the keeper (another runner now) sees n01 granted and gone, and
      // holds every other node back on the task's limit.
      const budget = new BudgetStore(h.store.coordinator, h.store.paths);
      const snap = await waitUntil('the others to wait on the killed node', async () => {
        const b = await budget.inspect(h.o.cluster);
        const pending = (await h.store.listNodes(taskId)).filter((n) => n.node !== 'n01' && n.state !== 'SUCCEEDED').map((n) => n.node);
        const waiting = b.gate.waiting.filter((w) => w.blocked_by === 'task_limit').map((w) => w.node);
        return b.grants.some((g) => g.node === 'n01' && g.task_id === taskId) && !b.live.includes('n01') && pending.every((n) => waiting.includes(n)) ? { b, pending } : undefined;
      });
      // (n01 may have gone first or later: the nodes not done yet are the ones held back.)
      if (snap.pending.length > 0) assert.match(snap.b.gate.waiting[0]?.reason ?? '', /task limit 1: 1 of the cluster disrupted \(n01\)/);
      assert.equal((await h.store.getNode(taskId, 'n01'))?.value.state, 'STARTED', 'the killed node is visibly in flight, not lost');
      await (await h.newRunner('n01')).start();
      const { task, nodes } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');
      const again = nodes.find((n) => n.node === 'n01');
      assert.equal(again?.state, 'SUCCEEDED');
      assert.equal(again?.attempts, 2);
      assert.match(again?.history[0]?.error ?? '', /interrupted/);
      assert.equal(again?.history[0]?.fencingToken, again?.history[1]?.fencingToken, 'the second attempt ran under the same grant');
      assert.equal(env.probe.maxDisrupted((e) => e.taskId === taskId), 1, 'never two nodes disrupted at once, counting the killed one until it passed');
      assert.deepEqual(await queuesEmpty(h), {});
      assert.deepEqual(await budget.grants(h.o.cluster), [], 'every grant released with its node\'s end');
    });

    it('a work item delivered twice to its runner while it runs the first copy: the node runs once, the copy is acknowledged after', async () => {
      const h = await start({ nodes: nodeNames(2) });
      const dups: string[] = [];
      h.runners.get('n01')?.on('duplicate', (e) => dups.push(e.reason));
      let taskId = '';
      let first = true;
      env.probe.onExecute = async (node) => {
        if (node !== 'n01' || !first) return;
        first = false;
        // SQS delivers at least once: the same work item again, while the runner is inside the action.
        await h.queue.send(h.names.node(h.o.cluster, 'n01'), { body: encodeWorkMessage({ taskId, cluster: h.o.cluster, node: 'n01', action: 'probe' }) });
        await waitUntil('the runner to see the second copy', async () => dups.length > 0);
      };
      taskId = await h.submit({ nodes: ['n01', 'n02'], limit: 2, args: { ms: 100 } });
      const { task, nodes } = await h.waitFinal(taskId);
      assert.equal(task.state, 'succeeded');
      assert.equal(env.probe.executions(taskId).get('n01'), 1, 'the node ran once');
      assert.equal(nodes.find((n) => n.node === 'n01')?.attempts, 1);
      assert.equal(dups[0], 'a copy is already in hand');
      assert.deepEqual(await queuesEmpty(h, 20_000), {}, 'the copy comes back and is acknowledged as a duplicate');
      // The copy claimed the node while it read its record (one round trip): the claim went back with the ack.
      assert.equal(await h.store.coordinator.exists(h.store.paths.owner(taskId, 'n01')), undefined, 'no claim left on the done node');
    });

    it('a runner that dies right after writing its node\'s end (before settling the task): its copy comes back and the task is settled', async () => {
      const started: { h?: Harness } = {};
      let died = false;
      const h = (started.h = await env.start(['n01'], {
        wrapSession: (c, who) =>
          who !== 'runner:n01'
            ? c
            : override(c, {
                transaction: async (ops: TxOp[]) => {
                  const out = await c.transaction(ops);
                  const end = ops.some((o) => o.op === 'set' && /\/n01$/.test(o.path) && o.data.toString().includes('"state":"SUCCEEDED"'));
                  if (end && !died) {
                    // The write reached ZooKeeper; the process dies before it hears back.
                    died = true;
                    void started.h?.runners.get('n01')?.kill();
                    throw new Error('process died');
                  }
                  return out;
                },
              }),
      }));
      const taskId = await h.submit({ nodes: ['n01'], limit: 1, args: { ms: 10 } });
      await waitUntil('the runner to die after the end', async () => died && (await h.store.getNode(taskId, 'n01'))?.value.state === 'SUCCEEDED');
      // Not settled yet: running, or routed if the runner died before its note of the start got through.
      const before = (await h.store.getTask(taskId))?.value.state;
      assert.ok(before === 'running' || before === 'routed', `nobody settled it yet (it is ${before})`);
      await (await h.newRunner('n01')).start();
      const { task } = await h.waitFinal(taskId, 30_000);
      assert.equal(task.state, 'succeeded', 'the copy, redelivered to the runner back on the node, settled the task');
      assert.equal(env.probe.executions(taskId).get('n01'), 1, 'and did not run the node again');
      assert.deepEqual(await queuesEmpty(h, 20_000), {});
    });

    it('a task cancelled while its node waits to retry: the node keeps its grant, marked dead, is re-checked, and another task then runs it', async () => {
      const h = await env.start(nodeNames(2), { routers: 1, runnerOptions: () => ({ deadRecheckMs: 200 }) });
      env.probe.failUntil.set('n01', 1);
      const a = await h.submit({ name: 'restart', nodes: ['n01'], limit: 1, retry: { count: 1, backoff: '60s' }, args: { ms: 10 } });
      await waitUntil('n01 to fail its first attempt and wait to retry', async () => (await h.store.getNode(a, 'n01'))?.value.state === 'FAILED');
      env.probe.failUntil.delete('n01');
      await cancelTask(h.store, a, 'alice');
      const b = await h.submit({ name: 'backup', nodes: ['n01'], limit: 1, args: { ms: 10 } });
      const { task } = await h.waitFinal(b);
      assert.equal(task.state, 'succeeded', 'the second task ran the node once its re-check passed');
      assert.equal((await h.waitFinal(a)).task.state, 'cancelled');
      const budget = new BudgetStore(h.store.coordinator, h.store.paths);
      const released = (await budget.events(h.o.cluster)).find((e) => e.node === 'n01' && e.kind === 'released');
      assert.match(released?.reason ?? '', /post_check of probe passed on re-check/);
      assert.equal(env.probe.maxDisrupted(), 1);
    });

    for (const check of ['passes', 'fails'] as const) {
      it(`a task halted while a killed runner's node held its grant: when it is back, its post_check ${check === 'passes' ? 'passes and the grant goes back with the SKIPPED record' : 'fails and the node keeps its grant, marked dead'}`, async () => {
        const h = await start({ nodes: nodeNames(3) });
        const wasKilled = killDuringFirstExecute(h, env.probe, 'n01');
        const taskId = await h.submit({ nodes: ['n01', 'n02', 'n03'], limit: 1, args: { ms: 200 } });
        await wasKilled;
        // Halted (as the circuit breaker does) while n01 is down under its grant.
        await h.store.updateTask(taskId, (t) => ({ ...t, state: 'halted', reason: 'test: halted by hand', endedAt: new Date().toISOString() }));
        await h.store.skipQueued(taskId, 'task halted: test');
        if (check === 'fails') env.probe.postCheckFails.add('n01');
        const budget = new BudgetStore(h.store.coordinator, h.store.paths);
        const ended = env.probe.events.length;
        await (await h.newRunner('n01')).start();

        const n01 = await waitUntil('n01 to end SKIPPED', async () => {
          const r = (await h.store.getNode(taskId, 'n01'))?.value;
          return r?.state === 'SKIPPED' ? r : undefined;
        });
        // Settled: the record and the grant are written one after the other.
        await h.waitFinal(taskId);
        assert.match(n01.reason ?? '', /task halted: test: halted by hand/);
        assert.match(n01.history[0]?.error ?? '', /interrupted/, 'the killed attempt is closed as interrupted');
        const grants = await budget.grants(h.o.cluster);
        if (check === 'passes') {
          assert.match(n01.reason ?? '', /post_check passed/);
          assert.ok(env.probe.events.slice(ended).some((e) => e.node === 'n01' && e.kind === 'end' && e.ok), 'the post_check ran on the node after its runner came back');
          assert.deepEqual(grants, [], 'the grant went back with the record');
          assert.ok(!(await budget.events(h.o.cluster)).some((e) => /left behind/.test(e.reason)), 'released with the record, not by the keeper\'s sweep');
        } else {
          assert.match(n01.reason ?? '', /post_check failed/);
          assert.equal(grants.length, 1);
          assert.equal(grants[0]?.node, 'n01');
          assert.equal(grants[0]?.task_id, taskId);
          assert.match(grants[0]?.dead?.reason ?? '', /post_check failed/, 'kept, marked dead: the node is not whole');
        }
        const { task } = await h.waitFinal(taskId);
        assert.equal(task.state, 'halted');
        assert.equal(env.probe.maxDisrupted((e) => e.taskId === taskId), 1);
      });
    }

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
      // The dead node keeps its grant: it failed its check, so it counts as disrupted.
      const budget = new BudgetStore(h.store.coordinator, h.store.paths);
      const dead = (await budget.grants(h.o.cluster)).find((g) => g.node === firstNode);
      assert.ok(dead?.dead, 'the DEAD node keeps its grant, marked dead');
      const r = await resumeTask(h.store, h.queue, h.names, taskId);
      assert.equal(r.requeued.length, 3);
      // With limit 1 the resumed nodes wait on it, visibly, until an operator gives it back.
      await waitUntil('the resumed nodes to wait on the dead node', async () => {
        const b = await budget.inspect(h.o.cluster);
        return b.gate.waiting.length === 3 && b.gate.waiting.every((w) => w.blocked_by === 'task_limit' && w.reason.includes(firstNode ?? '?'));
      });
      assert.ok(await budget.releaseGrant(h.o.cluster, firstNode ?? '', { by: 'oncall', reason: 'checked by hand', kind: 'released' }));
      assert.deepEqual((await budget.events(h.o.cluster)).map((e) => [e.kind, e.node, e.by]), [['released', firstNode, 'oncall']]);
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
      assert.deepEqual((await h.store.coordinator.children(h.store.paths.grants(h.o.cluster))) ?? [], [], 'no grant outlives a finished task');
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

    it('plans without enqueuing: targets, limit and budget as numbers, live runners, the cluster budget it draws from', async () => {
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
      assert.deepEqual(plan.budget.grants.map((g) => [g.node, g.taskId, g.kind]), [['n01', busy, 'task']]);
      assert.deepEqual(plan.budget.disrupted, ['n01']);
      assert.equal(plan.budget.headroom, 1, 'limit 2, one node of the cluster disrupted by another task');
      assert.deepEqual(await h.leftInQueues(), before, 'nothing was enqueued');
      hold();
      assert.equal((await h.waitFinal(busy)).task.state, 'succeeded');
    });
  });
}

/** The cluster budget: every task and hold of a cluster draws from one budget of disrupted nodes. */
export function budgetScenarios(name: string, setup: ScenarioSetup): void {
  describe(`cluster budget scenarios: ${name}`, function () {
    this.timeout(120_000);
    const env = harnessPerTest(setup, 'cassandra:geo_counter');
    const budgetOf = (h: Harness) => new BudgetStore(h.store.coordinator, h.store.paths);
    const apply = async (h: Harness, p: Record<string, unknown>) => budgetOf(h).applyPolicy(parsePolicy({ cluster: h.o.cluster, ...p }), 'test');

    it('two and three tasks side by side on one cluster: never more nodes disrupted than the smallest limit, and all finish', async () => {
      const h = await env.start(nodeNames(6));
      const a = await h.submit({ name: 'restart', limit: 2, args: { ms: 120 } });
      const b = await h.submit({ name: 'backup', limit: 2, args: { ms: 80 } });
      const c = await h.submit({ name: 'repair', limit: 3, args: { ms: 60 } });
      for (const t of [a, b, c]) assert.equal((await h.waitFinal(t)).task.state, 'succeeded', t);
      // Each task's limit caps the whole cluster's disruptions while it starts a node: with tasks of limit 2 and
      // 3 side by side, at most 3 at once, and at most 2 whenever only limit-2 tasks started nodes.
      assert.ok(env.probe.maxDisrupted() <= 3, `max disrupted ${env.probe.maxDisrupted()}`);
      for (const t of [a, b, c]) assert.deepEqual([...env.probe.executions(t).values()], new Array(6).fill(1));
      assert.deepEqual(await budgetOf(h).grants(h.o.cluster), []);
    });

    it('two tasks of limit 2: never more than 2 nodes of the cluster disrupted, by an independent probe', async () => {
      const h = await env.start(nodeNames(6));
      const a = await h.submit({ name: 'restart', limit: 2, args: { ms: 100 } });
      const b = await h.submit({ name: 'backup', limit: 2, args: { ms: 100 } });
      for (const t of [a, b]) assert.equal((await h.waitFinal(t)).task.state, 'succeeded');
      assert.equal(env.probe.maxDisrupted(), 2);
      assert.equal(env.probe.executions().size, 6);
    });

    it('a cluster policy caps every task: budget 1 under tasks of limit 3', async () => {
      const h = await env.start(nodeNames(4));
      await apply(h, { budget: 1 });
      const a = await h.submit({ name: 'a', limit: 3, args: { ms: 60 } });
      const b = await h.submit({ name: 'b', limit: 3, args: { ms: 60 } });
      for (const t of [a, b]) assert.equal((await h.waitFinal(t)).task.state, 'succeeded');
      assert.equal(env.probe.maxDisrupted(), 1);
    });

    it('zone budget: three zones, one node per zone at a time', async () => {
      const zones: Record<string, string> = { n01: 'a', n02: 'a', n03: 'b', n04: 'b', n05: 'c', n06: 'c' };
      const h = await env.start(nodeNames(6), { runnerOptions: (n) => ({ zone: zones[n] }) });
      await apply(h, { budget: 3, zone_budget: 1 });
      // The first node to run waits (10 s at most) for a second one to start, in another zone: whatever the
      // machine's load, zones that run side by side are seen doing so.
      let second!: () => void;
      const secondStarted = new Promise<void>((r) => (second = r));
      let executing = 0;
      env.probe.onExecute = async () => {
        if (++executing > 1) return second();
        const giveUp = new AbortController();
        await Promise.race([secondStarted, delay(10_000, giveUp.signal).catch(() => undefined)]);
        giveUp.abort();
      };
      const t = await h.submit({ limit: 3, args: { ms: 100 } });
      assert.equal((await h.waitFinal(t)).task.state, 'succeeded');
      for (const z of ['a', 'b', 'c']) assert.equal(env.probe.maxDisrupted((e) => zones[e.node] === z), 1, `zone ${z}`);
      assert.ok(env.probe.maxDisrupted() >= 2, 'zones ran side by side');
    });

    it('exclusive: a repair waits for the others to drain, and nothing else starts while it holds a grant', async () => {
      const h = await env.start(nodeNames(4));
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let blockedOnce = false;
      env.probe.onExecute = async () => {
        if (!blockedOnce) {
          blockedOnce = true;
          await gate;
        }
      };
      const first = await h.submit({ name: 'restart', nodes: ['n01'], limit: 2, args: { ms: 10 } });
      await h.waitFor(first, 'n01 to start', (ns) => ns[0]?.state === 'STARTED');
      const repair = await h.submit({ name: 'repair', limit: 2, exclusive: true, args: { ms: 50 } });
      await waitUntil('the repair to wait for the others to drain', async () => (await budgetOf(h).inspect(h.o.cluster)).gate.waiting.some((w) => w.task_id === repair && w.blocked_by === 'exclusive'));
      const later = await h.submit({ name: 'backup', nodes: ['n04'], limit: 2, args: { ms: 10 } });
      release();
      for (const t of [first, repair, later]) assert.equal((await h.waitFinal(t)).task.state, 'succeeded');
      // The repair's window: from its first start to its last end, no other task's node is disrupted.
      const ev = env.probe.events;
      const from = ev.findIndex((e) => e.taskId === repair && e.kind === 'start');
      const to = ev.length - 1 - [...ev].reverse().findIndex((e) => e.taskId === repair && e.kind === 'end');
      assert.deepEqual(ev.slice(from, to + 1).filter((e) => e.taskId !== repair), [], 'nothing else ran while the exclusive task held grants');
      assert.ok(ev.findIndex((e) => e.taskId === first && e.kind === 'end') < from, 'it waited for the restart to drain');
    });

    it('a high-priority one-node task for a node whose rollout item is waiting runs first', async () => {
      const h = await env.start(nodeNames(3));
      await apply(h, { budget: 1 });
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      env.probe.onExecute = async (node) => {
        if (node === 'n01') await gate;
      };
      const hold = await h.submit({ name: 'hold', nodes: ['n01'], limit: 1, args: { ms: 1 } });
      await h.waitFor(hold, 'n01 to start', (ns) => ns[0]?.state === 'STARTED');
      const rollout = await h.submit({ name: 'rollout', nodes: ['n02', 'n03'], limit: 1, args: { ms: 10 } });
      await h.waitFor(rollout, 'the rollout to wait', (ns) => ns.every((n) => n.state === 'WAITING'));
      const urgent = await h.submit({ name: 'urgent', nodes: ['n03'], limit: 1, priority: 'high', args: { ms: 10 } });
      await waitUntil('the urgent request to be queued', async () => (await budgetOf(h).requests(h.o.cluster)).some((r) => r.task_id === urgent));
      const order = (await budgetOf(h).inspect(h.o.cluster)).requests.map((r) => r.task_id);
      assert.equal(order[0], urgent, 'high priority is served first');
      release();
      for (const t of [hold, rollout, urgent]) assert.equal((await h.waitFinal(t)).task.state, 'succeeded');
      const starts = env.probe.events.filter((e) => e.kind === 'start' && e.taskId !== hold);
      assert.equal(starts[0]?.taskId, urgent, 'the urgent task started before the rollout went on');
      assert.equal(env.probe.maxDisrupted(), 1);
    });

    it('the health gate: closed (exit 1, missing check) nothing starts and the reason is visible; it opens and the rollout goes on by itself', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tm-health-'));
      const flag = join(dir, 'healthy');
      // A check from the runners' local config: healthy while the flag file exists.
      const checks = { 'ring-healthy': { argv: ['/bin/sh', '-c', `test -f ${flag} && echo UN || { echo "node n09 is DN"; exit 1; }`] } };
      const h = await env.start(nodeNames(3), { runnerOptions: () => ({ checks, keeperTickMs: 200 }) });
      await apply(h, { budget: 1, health: { check: 'ring-healthy', timeout: '5s', interval: '200ms' } });
      const t = await h.submit({ limit: 1, args: { ms: 10 } });
      const closed = await waitUntil('the gate to close with the reason', async () => {
        const b = await budgetOf(h).inspect(h.o.cluster);
        return b.gate.health?.ok === false && b.gate.waiting.length === 3 ? b : undefined;
      });
      assert.match(closed.gate.waiting[0]?.reason ?? '', /cluster health: ring-healthy exited 1: node n09 is DN/);
      assert.equal(env.probe.executions(t).size, 0, 'nothing started while the gate was closed');
      // A check the keeper's config does not define closes the gate too.
      await apply(h, { budget: 1, health: { check: 'not-configured', timeout: '5s', interval: '200ms' } });
      await waitUntil('the missing check to close the gate', async () => /not defined in this runner's config/.test((await budgetOf(h).getGate(h.o.cluster)).value.health?.detail ?? ''));
      assert.equal(env.probe.executions(t).size, 0);
      await apply(h, { budget: 1, health: { check: 'ring-healthy', timeout: '5s', interval: '200ms' } });
      await writeFile(flag, '');
      assert.equal((await h.waitFinal(t)).task.state, 'succeeded');
      assert.equal((await budgetOf(h).getGate(h.o.cluster)).value.health?.ok, true);
      await rm(dir, { recursive: true, force: true });
    });

    it('a check that times out closes the gate', async () => {
      const checks = { slow: { argv: ['/bin/sh', '-c', 'sleep 5'] } };
      const h = await env.start(nodeNames(1), { runnerOptions: () => ({ checks }) });
      await apply(h, { budget: 1, health: { check: 'slow', timeout: '300ms', interval: '10s' } });
      const t = await h.submit({ limit: 1, args: { ms: 10 } });
      await waitUntil('the timeout to close the gate', async () => /timed out after 0.3s/.test((await budgetOf(h).getGate(h.o.cluster)).value.health?.detail ?? ''));
      assert.equal(env.probe.executions(t).size, 0);
    });

    it('a runner queues the item in hand for its grant before it polls for the next one; the next is taken while it waits', async () => {
      // What n01's runner does, in order: receives (and what they return), and the grant requests it makes.
      const seen: string[] = [];
      // Set once started; the wrappers run from the start (the runner polls at once), before it is.
      const started: { h?: Harness } = {};
      const nodeQueue = () => started.h?.names.node(started.h.o.cluster, 'n01');
      const requests = () => started.h?.store.paths.requests(started.h.o.cluster);
      const h = (started.h = await env.start(nodeNames(2), {
        wrapQueue: (q, who) =>
          who !== 'runner:n01'
            ? q
            : override(q, {
                receive: async (name: string, opts: Parameters<WorkQueue['receive']>[1]) => {
                  if (name === nodeQueue()) seen.push('receive');
                  const got = await q.receive(name, opts);
                  if (name === nodeQueue() && got.length > 0) seen.push('got item');
                  return got;
                },
              }),
        wrapSession: (c, who) =>
          who !== 'runner:n01'
            ? c
            : override(c, {
                create: (path: string, data?: Buffer, mode?: CreateMode) => {
                  const dir = requests();
                  if (dir && path.startsWith(dir)) seen.push('grant request');
                  return c.create(path, data, mode);
                },
              }),
      }));
      await apply(h, { budget: 1 });
      const b = budgetOf(h);
      const held = await waitForGrant(b, h.o.cluster, { node: 'n02', zone: undefined, kind: 'hold', task_id: undefined, limit: undefined, exclusive: false, priority: 'normal', requested_at: new Date().toISOString(), by: 'alice@laptop', reason: 'disk swap', ttl_ms: undefined });
      held.close();
      const first = await h.submit({ name: 'restart', nodes: ['n01'], limit: 1, args: { ms: 10 } });
      await waitUntil('n01 to wait for the budget', async () => (await b.inspect(h.o.cluster)).gate.waiting.some((w) => w.task_id === first));
      const got = seen.indexOf('got item');
      assert.ok(got >= 0, seen.join(', '));
      assert.deepEqual(seen.slice(got, got + 3), ['got item', 'grant request', 'receive'], `n01's runner, in order: ${seen.join(', ')}`);
      // Waiting does not hold the runner: a second task's item for n01 is taken and queued too.
      const second = await h.submit({ name: 'backup', nodes: ['n01'], limit: 1, args: { ms: 10 } });
      await waitUntil('both items of n01 to wait', async () => (await b.inspect(h.o.cluster)).gate.waiting.filter((w) => w.node === 'n01').length === 2);
      assert.ok(await b.releaseGrant(h.o.cluster, 'n02', { by: 'alice@laptop', reason: 'done', kind: 'released' }));
      for (const t of [first, second]) assert.equal((await h.waitFinal(t)).task.state, 'succeeded');
      assert.equal(env.probe.maxDisrupted(), 1);
    });

    it('hold and release: a human hold draws from the same budget; release gives it back, recorded with who and why', async () => {
      const h = await env.start(nodeNames(3));
      await apply(h, { budget: 1 });
      const b = budgetOf(h);
      const held = await waitForGrant(b, h.o.cluster, { node: 'n02', zone: undefined, kind: 'hold', task_id: undefined, limit: undefined, exclusive: false, priority: 'normal', requested_at: new Date().toISOString(), by: 'alice@laptop', reason: 'disk swap', ttl_ms: undefined });
      held.close();
      const t = await h.submit({ limit: 3, args: { ms: 10 } });
      await waitUntil('the task to wait on the hold', async () => (await b.inspect(h.o.cluster)).gate.waiting.some((w) => w.task_id === t && w.blocked_by === 'budget' && /n02/.test(w.reason)));
      assert.equal(env.probe.executions(t).size, 0);
      assert.ok(await b.releaseGrant(h.o.cluster, 'n02', { by: 'alice@laptop', reason: 'disk swapped', kind: 'released' }));
      assert.equal((await h.waitFinal(t)).task.state, 'succeeded');
      assert.deepEqual((await b.events(h.o.cluster)).map((e) => [e.kind, e.node, e.by, e.reason]), [['released', 'n02', 'alice@laptop', 'disk swapped']]);
      assert.equal(env.probe.maxDisrupted(), 1);
    });
  });
}
