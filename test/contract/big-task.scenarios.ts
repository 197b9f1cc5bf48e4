// A task too big for one ZooKeeper request, through the router (issue 11): fanned out once however many
// routers and redeliveries, finished by the next router when the one recording it dies, and dead-lettered
// at once, not retried, when it can never be recorded. The coordinator is the adapter under test; the
// queue is in memory (what is checked is how many work items each node queue got).
import assert from 'node:assert/strict';
import { builtinRegistry } from '../../actions/builtin.js';
import type { Coordinator } from '../../core/coordination/coordinator.js';
import { ExplicitDiscovery, type Discovery } from '../../core/discovery/discovery.js';
import { silentLogger } from '../../core/logger.js';
import { DLQ_ATTR } from '../../core/queue/dead-letter.js';
import { MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { TaskStore } from '../../core/task/task-store.js';
import { encodeTaskMessage, newTaskId, type Task } from '../../core/task/task.js';
import { Router } from '../../router/router.js';
import { freshQueuePrefix } from '../support/env.js';
import { InterleavedCoordinator } from '../support/interleave.js';

const N = 1_100;
const CLUSTER = 'big:fleet';
const nodeNames = Array.from({ length: N }, (_, i) => `node-${String(i + 1).padStart(5, '0')}`);

/** Polls `check` every 50 ms until it returns true, at most `ms`; fails with `what` otherwise. */
async function until(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function bigTaskScenarios(name: string, factory: () => Promise<{ open(): Promise<Coordinator>; root: string; cleanup(): Promise<void> }>): void {
  describe(`big task through the router: ${name}`, function () {
    this.timeout(120_000);
    let env: Awaited<ReturnType<typeof factory>>;
    let queue: MemoryWorkQueue;
    const sessions: Coordinator[] = [];
    const routers: Router[] = [];
    const names = queueNames(freshQueuePrefix());
    const open = async () => {
      const c = await env.open();
      sessions.push(c);
      return c;
    };
    beforeEach(async () => {
      env = await factory();
      queue = new MemoryWorkQueue();
    });
    afterEach(async () => {
      await Promise.allSettled(routers.splice(0).map((r) => r.stop()));
      await Promise.allSettled(sessions.splice(0).map((s) => s.close()));
      await queue.close();
      await env.cleanup();
    });

    const router = async (coordinator: Coordinator, explicit: Discovery = new ExplicitDiscovery()) => {
      const r = new Router({ queue, store: new TaskStore(coordinator, env.root), names, registry: builtinRegistry(), discovery: { explicit }, logger: silentLogger, waitSec: 1, visibilitySec: 2, busyRetrySec: 1 });
      routers.push(r);
      await r.start();
      return r;
    };
    const bigTask = (): Task => ({ taskId: newTaskId(), spec: parseTaskSpec({ name: 'fleet-patch', action: 'noop', cluster: CLUSTER, nodes: nodeNames, limit: '10%' }), emittedBy: { kind: 'cli', user: 'oncall' }, emittedAt: new Date().toISOString() });
    /** Work items per node queue (a queue never created counts 0). */
    const sentPerNode = async () => {
      const counts = new Map<number, number>();
      for (const n of nodeNames) {
        const q = names.node(CLUSTER, n);
        const c = (await queue.exists(q)) ? (await queue.stats(q)).visible : 0;
        counts.set(c, (counts.get(c) ?? 0) + 1);
      }
      return Object.fromEntries(counts);
    };
    const globalDrained = async () => {
      const s = await queue.stats(names.global);
      return s.visible + s.inFlight + s.delayed === 0;
    };

    it(`${N} nodes, the message sent twice, two routers: recorded once, one work item per node`, async () => {
      const store = new TaskStore(await open(), env.root);
      await router(await open());
      await router(await open());
      const t = bigTask();
      await queue.send(names.global, { body: encodeTaskMessage(t) });
      await queue.send(names.global, { body: encodeTaskMessage(t) });
      await until('routed and both messages handled', async () => (await store.getTask(t.taskId))?.value.state === 'routed' && (await globalDrained()));
      assert.deepEqual(await sentPerNode(), { 1: N });
      const nodes = await store.listNodes(t.taskId);
      assert.equal(nodes.length, N);
      assert.ok(nodes.every((n) => n.state === 'QUEUED'));
      const rec = await store.getTask(t.taskId);
      assert.equal(rec?.value.targetCount, N);
      assert.equal(rec?.value.limit, 110);
    });

    it('the router recording it dies mid-way: nothing is sent, nothing looks complete, and the redelivery finishes it once', async () => {
      const store = new TaskStore(await open(), env.root);
      const aRaw = await env.open();
      const a = new InterleavedCoordinator(aRaw);
      const t = bigTask();
      let batches = 0;
      let killed = false;
      a.once((c) => c.method === 'transaction' && c.ops.some((op) => op.path.startsWith(`${store.paths.nodes(t.taskId)}/`)) && ++batches === 3, async () => {
        killed = true;
        throw new Error('router killed');
      });
      const first = await router(a);
      await queue.send(names.global, { body: encodeTaskMessage(t) });
      await until('the first router died mid-recording', async () => killed);
      await first.stop();
      await aRaw.close();

      const rec = await store.getTask(t.taskId);
      assert.equal(rec?.value.state, 'recording');
      const partial = await store.listNodes(t.taskId);
      assert.ok(partial.length > 0 && partial.length < N, `${partial.length} node records when it died`);
      assert.equal(await store.settleIfDone(t.taskId), undefined);
      assert.deepEqual(await sentPerNode(), { 0: N }, 'no work item before the task is recorded');

      await router(await open());
      await until('routed by the second router', async () => (await store.getTask(t.taskId))?.value.state === 'routed' && (await globalDrained()));
      assert.deepEqual(await sentPerNode(), { 1: N });
      assert.equal((await store.listNodes(t.taskId)).length, N);
    });

    it('a task that can never be recorded is dead-lettered at once with its reason, not retried', async () => {
      const store = new TaskStore(await open(), env.root);
      const tooMany: Discovery = { kind: 'explicit', resolve: async () => Array.from({ length: 10_001 }, (_, i) => `n${i}`) };
      const r = await router(await open(), tooMany);
      const problems: Error[] = [];
      const rejected: string[] = [];
      r.on('problem', (e) => problems.push(e));
      r.on('rejected', (e) => rejected.push(e.reason));
      const t = bigTask();
      await queue.send(names.global, { body: encodeTaskMessage(t) });
      await until('rejected', async () => rejected.length > 0 && (await globalDrained()));
      assert.match(rejected[0] ?? '', /10001 target nodes \(at most 10000 per task\)/);
      const dead = await queue.receive(names.globalDlq, { max: 10, waitSec: 0, visibilitySec: 30 });
      assert.equal(dead.length, 1);
      assert.equal(dead[0]?.attributes[DLQ_ATTR.code], 'TASK_TOO_LARGE');
      const rec = await store.getTask(t.taskId);
      assert.equal(rec?.value.state, 'failed');
      assert.match(rec?.value.reason ?? '', /at most 10000/);
      assert.deepEqual(problems, [], 'never a routing failure to retry');
      assert.deepEqual(await store.listNodes(t.taskId), []);
    });
  });
}
