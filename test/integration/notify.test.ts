// Notifications from two router replicas (and the runners) to one receiver on loopback, on a real ZooKeeper
// server and the SQS server: exactly one message per event (a dead letter, a halted task, a cancelled
// task), however many processes saw it; and a receiver that never answers does not hold up the rollout.
import { BudgetStore } from '../../core/budget/budget-store.js';
import assert from 'node:assert/strict';
import { silentLogger } from '../../core/logger.js';
import { ZkCoordinator, type ZkCoordinator as Zk } from '../../core/coordination/zk-coordinator.js';
import { FleetScanner } from '../../core/fleet/fleet-scanner.js';
import { Notifier } from '../../core/notify/notifier.js';
import { cancelTask } from '../../core/task/task-control.js';
import { TaskStore } from '../../core/task/task-store.js';
import { bindRouterNotifications } from '../../router/router-notify.js';
import { bindRunnerNotifications } from '../../runner/runner-notify.js';
import { freshQueuePrefix, freshZkRoot, requireZk, testZk } from '../support/env.js';
import { Harness } from '../support/harness.js';
import { Probe } from '../support/probe.js';
import { realBackend } from '../support/real-backend.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const CLUSTER = 'notify:c1';
const NODES = ['a1', 'a2', 'a3'];

async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('integration: notifications across two routers', function () {
  this.timeout(120_000);
  let h: Harness | undefined;
  let receiver: WebhookReceiver;
  let probe: Probe;
  let notifiers: Notifier[];
  let scanners: FleetScanner[];
  let sessions: Zk[];
  let scans: number;

  async function start(ctx: Mocha.Context, opts: { hang: boolean; timeoutMs: number }) {
    requireZk(ctx);
    const zk = testZk() as string;
    receiver = new WebhookReceiver();
    receiver.hang = opts.hang;
    const url = await receiver.start();
    probe = new Probe();
    const root = freshZkRoot();
    h = new Harness({ backend: await realBackend(root), cluster: CLUSTER, nodes: NODES, routers: 2, zkRoot: root, queuePrefix: freshQueuePrefix(), actions: [probe.action()], visibilitySec: 5 });
    await h.start();
    notifiers = [];
    scanners = [];
    sessions = [];
    scans = 0;
    const notifier = (component: string, store: TaskStore) => {
      const n = new Notifier({ url, coordinator: store.coordinator, root, logger: silentLogger, component, timeoutMs: opts.timeoutMs, retries: 1, backoffMs: 50 });
      notifiers.push(n);
      return n;
    };
    // Each router replica with its own ZooKeeper session for its scanner and its notifier's markers.
    for (const router of h.routers) {
      const session = await ZkCoordinator.connect({ connectionString: zk, sessionTimeoutMs: 4000 });
      sessions.push(session);
      const store = new TaskStore(session, root);
      const scanner = new FleetScanner({ store, queue: h.queue, names: h.names, logger: silentLogger, intervalMs: 150, queueIntervalMs: 60_000 });
      scanner.on('scan', () => scans++);
      scanners.push(scanner);
      const n = notifier('router', store);
      bindRouterNotifications({ router, scanner, notifier: n, store, names: h.names, logger: silentLogger, grantGraceMs: 3_600_000 });
      await n.start();
      await scanner.start();
    }
    for (const runner of h.runners.values()) {
      const n = notifier('runner', h.store);
      bindRunnerNotifications(runner, n, h.names);
      await n.start();
    }
  }

  afterEach(async () => {
    for (const s of scanners ?? []) await s.stop();
    await Promise.allSettled((notifiers ?? []).map((n) => n.stop(0)));
    await receiver?.stop();
    await h?.stop();
    h = undefined;
    for (const s of sessions ?? []) await s.close();
  });

  /** Lets every scanner look several more times, so a late duplicate would have shown. */
  async function settle(): Promise<void> {
    const target = scans + 4 * scanners.length;
    await until('more scans', () => scans >= target);
    await until('the notifiers idle', () => notifiers.every((n) => n.pending === 0));
  }

  it('posts exactly one message per event: a dead letter, a halted task, a cancelled task', async function () {
    await start(this, { hang: false, timeoutMs: 5000 });
    const harness = h as Harness;
    // a1 and a2 fail: whichever gets the grant first dies and keeps it (DEAD), the others still wait, so the
    // breaker has something to stop: the task halts with one dead letter.
    probe.failUntil.set('a2', 99);
    probe.failUntil.set('a1', 99);
    const halted = await harness.submit({ limit: 1, nodes: ['a2', 'a1', 'a3'], args: { ms: 10 }, retry: { count: 0, backoff: '100ms' }, max_failures: 1 });
    const first = await harness.waitFinal(halted);
    assert.equal(first.task.state, 'halted');
    const deadNode = first.nodes.find((n) => n.state === 'DEAD')?.node ?? '?';
    // The DEAD node keeps its grant (limit 1 for the whole cluster): an operator gives it back.
    probe.failUntil.clear();
    await new BudgetStore(harness.store.coordinator, harness.store.paths).releaseGrant(CLUSTER, deadNode, { by: 'test', reason: 'checked', kind: 'released' });

    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    probe.onExecute = () => gate;
    const cancelled = await harness.submit({ limit: 1, nodes: ['a1', 'a3'], args: { ms: 10 } });
    await harness.waitFor(cancelled, 'a node started', (ns) => ns.some((n) => n.state === 'STARTED'));
    await cancelTask(harness.store, cancelled, 'alice');
    open();
    assert.equal((await harness.waitFinal(cancelled)).task.state, 'cancelled');

    await until('three notifications', () => receiver.bodies.length >= 3);
    await settle();
    const byKind = (k: string) => receiver.bodies.filter((b) => b.kind === k);
    assert.deepEqual(receiver.bodies.map((b) => b.kind).sort(), ['dead_letter', 'task_cancelled', 'task_halted'], JSON.stringify(receiver.bodies, null, 1));
    const dead = byKind('dead_letter')[0] as Record<string, unknown>;
    assert.equal(dead.task_id, halted);
    assert.equal(dead.node, deadNode);
    assert.equal(dead.cluster, CLUSTER);
    assert.match(String(dead.at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(String((dead.details as Record<string, unknown>).reason), /ACTION_FAILED/);
    assert.equal(byKind('task_halted')[0]?.task_id, halted);
    const c = byKind('task_cancelled')[0] as Record<string, unknown>;
    assert.equal(c.task_id, cancelled);
    assert.match(String(c.summary), /cancelled by alice/);
    assert.equal(new Set(receiver.bodies.map((b) => b.key)).size, 3, 'one message per event key');
  });

  it('does not hold up the rollout when the receiver never answers', async function () {
    await start(this, { hang: true, timeoutMs: 120_000 });
    const harness = h as Harness;
    probe.failUntil.set('a3', 99);
    // a3 dies first (a notification that hangs), then the rollout goes on through a1 and a2.
    const first = await harness.submit({ limit: 1, nodes: ['a3'], args: { ms: 10 }, retry: { count: 0, backoff: '100ms' }, max_failures: 1 });
    // Its only node died: nothing left to stop, so the task fails (not halted).
    assert.equal((await harness.waitFinal(first)).task.state, 'failed');
    await until('the receiver holding a request', () => receiver.held.length >= 1);
    // a3 keeps its grant (DEAD); with limit 1 for the cluster, an operator gives it back before the next rollout.
    await new BudgetStore(harness.store.coordinator, harness.store.paths).releaseGrant(CLUSTER, 'a3', { by: 'test', reason: 'checked', kind: 'released' });
    const rollout = await harness.submit({ limit: 1, nodes: ['a1', 'a2'], args: { ms: 10 } });
    const { task } = await harness.waitFinal(rollout, 30_000);
    assert.equal(task.state, 'succeeded');
    // The work finished while the receiver still held every request it got: nothing waited for an answer.
    assert.ok(receiver.held.length >= 1);
    assert.ok(receiver.held.every((r) => !r.writableEnded), 'no request was answered');
  });
});
