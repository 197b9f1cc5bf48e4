// A node must not start in a task that was halted before its start was written, even when the runner learns of
// the halt between deciding to start and writing STARTED. The start is a write guarded on the task's control
// record; the decision must be made on the record that guard was read with. The race, as chaos seed 1801 round
// 95 found it (zk-restart + fail-nodes): after a ZooKeeper blip a runner is granted; its grant read and its task
// follower's re-read (the breaker halted the task meanwhile) come back close together, and while the runner
// re-checks the cluster's policy (a grant learnt after a blip: runner.stillHealthy) the follower applies the
// halt. A guard taken after that includes the halt, and the start went through. Here the in-memory
// coordinator's session is wrapped to hold those answers in exactly that order.
import assert from 'node:assert/strict';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { waitForGrant } from '../../core/budget/grant-waiter.js';
import { parsePolicy } from '../../core/budget/policy.js';
import type { Coordinator } from '../../core/coordination/coordinator.js';
import { MemoryCoordinatorStore, type MemoryCoordinator } from '../../core/coordination/memory-coordinator.js';
import { MemoryQueueStore } from '../../core/queue/memory-work-queue.js';
import { TERMINAL_NODE_STATES } from '../../core/task/task.js';
import { freshQueuePrefix, freshZkRoot } from '../support/env.js';
import { Harness, memoryBackend } from '../support/harness.js';
import { Probe } from '../support/probe.js';
import { waitUntil } from '../support/wait-until.js';

const CLUSTER = 'cassandra:ring';
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * n01's session, with one scripted race: once `arm(...)` is called, the answer to n01's read of its grant is held
 * until the task is halted and n01's follower has asked for the control record again; that answer is then held
 * until n01 re-reads the cluster's policy, and released first, so the follower applies the halt while the policy
 * read is still out.
 */
class RacingSession {
  private armed: { grant: string; control: string; policy: string; halt: () => Promise<void> } | undefined;
  private controlAsked: (() => void) | undefined;
  private nextAsked: (() => void) | undefined;
  raced = false;

  constructor(private readonly inner: Coordinator) {}

  arm(paths: { grant: string; control: string; policy: string }, halt: () => Promise<void>): void {
    this.armed = { ...paths, halt };
  }

  wrap(): Coordinator {
    return new Proxy(this.inner, {
      get: (target, prop, receiver) => {
        if (prop !== 'get') return Reflect.get(target, prop, receiver) as unknown;
        return (path: string, watch?: Parameters<Coordinator['get']>[1]) => this.get(path, watch);
      },
    });
  }

  private async get(path: string, watch?: Parameters<Coordinator['get']>[1]): ReturnType<Coordinator['get']> {
    const a = this.armed;
    if (!a) return this.inner.get(path, watch);
    if (path === a.grant && watch) {
      const d = await this.inner.get(path, watch);
      if (!d) return d;
      this.armed = undefined;
      const asked = new Promise<void>((resolve) => (this.controlAsked = resolve));
      this.armed = a;
      await a.halt();
      await asked;
      return d;
    }
    if (path === a.control && this.controlAsked) {
      const resolve = this.controlAsked;
      this.controlAsked = undefined;
      const next = new Promise<void>((r) => (this.nextAsked = r));
      const d = this.inner.get(path, watch);
      resolve();
      await next;
      return d;
    }
    if (this.nextAsked && path === a.policy) {
      const release = this.nextAsked;
      this.nextAsked = undefined;
      this.armed = undefined;
      this.raced = true;
      const d = this.inner.get(path, watch);
      release();
      // The follower's answer goes first: a few turns for its continuation to apply the halt.
      for (let i = 0; i < 5; i++) await tick();
      return d;
    }
    return this.inner.get(path, watch);
  }
}

describe('runner: a halt learnt between deciding to start and writing the start', function () {
  this.timeout(60_000);
  const zk = new MemoryCoordinatorStore();
  let h: Harness | undefined;
  after(async () => {
    await h?.stop();
    await zk.stop();
  });

  it('stops the start: the node ends SKIPPED, its grant goes back, nothing runs', async () => {
    const probe = new Probe();
    let session: MemoryCoordinator | undefined;
    let racing: RacingSession | undefined;
    h = new Harness({
      backend: memoryBackend(zk, new MemoryQueueStore()),
      cluster: CLUSTER,
      nodes: ['n02', 'n03'],
      zkRoot: freshZkRoot(),
      queuePrefix: freshQueuePrefix(),
      actions: [probe.action()],
      // n01's session, raced (the other runners' and the store's go through untouched).
      wrapSession: (c, who) => (who === 'runner:n01' ? (racing = new RacingSession((session = c as MemoryCoordinator))).wrap() : c),
    });
    await h.start();
    const budget = new BudgetStore(h.store.coordinator, h.store.paths);
    await budget.applyPolicy(parsePolicy({ cluster: CLUSTER, budget: 1 }), 'test');
    await waitUntil('a keeper', async () => [...h!.runners.values()].some((r) => r.budgetKeeper.isLeading));
    const n01 = await h.newRunner('n01');
    await n01.start();
    // n03 is held, so n01 waits for the only slot.
    const hold = await waitForGrant(budget, CLUSTER, { node: 'n03', zone: undefined, kind: 'hold', task_id: undefined, limit: undefined, exclusive: false, priority: 'normal', requested_at: new Date().toISOString(), by: 'alice', reason: 'disk swap', ttl_ms: undefined });
    hold.close();
    const taskId = await h.submit({ nodes: ['n01'], limit: 1, args: { ms: 10 } });
    await waitUntil('n01 to wait behind the hold', async () => (await budget.inspect(CLUSTER)).gate.waiting.some((w) => w.node === 'n01'));
    // A blip while n01 waits: the grant it gets next was learnt after one, so it re-checks the cluster's policy.
    assert.ok(session && racing);
    zk.suspend(session);
    zk.resume(session);
    await waitUntil('n01 to wait again after the blip', async () => (await budget.inspect(CLUSTER)).gate.waiting.some((w) => w.node === 'n01'));

    const store = h.store;
    racing.arm({ grant: budget.paths.grant(CLUSTER, 'n01'), control: store.paths.control(taskId), policy: budget.paths.policy(CLUSTER) }, async () => {
      await store.updateTask(taskId, (t) => ({ ...t, state: 'halted', reason: 'circuit breaker: 1 failed node(s), max_failures is 1', endedAt: new Date().toISOString() }));
    });
    await budget.releaseGrant(CLUSTER, 'n03', { by: 'alice', reason: 'done', kind: 'released' });

    const final = await h.waitFinal(taskId);
    assert.ok(racing.raced, 'the race was staged: the halt reached the follower during the policy re-check');
    assert.equal(final.task.state, 'halted');
    await waitUntil('n01 to end', async () => TERMINAL_NODE_STATES.includes((await store.getNode(taskId, 'n01'))?.value.state ?? 'QUEUED'));
    assert.equal(probe.executions(taskId).size, 0, 'nothing ran in the halted task');
    assert.equal((await store.getNode(taskId, 'n01'))?.value.state, 'SKIPPED');
    await waitUntil('n01 to give its grant back', async () => !(await budget.grants(CLUSTER)).some((g) => g.node === 'n01'));
  });
});
