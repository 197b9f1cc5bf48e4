// The daemons' /metrics, scraped over HTTP during rollouts on a real ZooKeeper server and the SQS server:
// the counters and histograms must move as the rollout did (items by outcome, attempts by result, retries,
// grant waits and handoffs, dead letters, breaker trips), the fleet gauges must show the grants held and
// waiting mid-rollout, and the scheduler's fires and leadership must show.
import assert from 'node:assert/strict';
import { silentLogger } from '../../core/logger.js';
import { FleetScanner } from '../../core/fleet/fleet-scanner.js';
import { bindFleetMetrics } from '../../core/metrics/fleet-metrics.js';
import { instrumentQueue } from '../../core/metrics/instrumented-queue.js';
import { MetricsServer } from '../../core/metrics/metrics-server.js';
import { createMetrics, type TaskermanMetrics } from '../../core/metrics/metrics.js';
import { trackZkSession } from '../../core/metrics/zk-session-metrics.js';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { bindRouterMetrics } from '../../router/router-metrics.js';
import { bindRunnerMetrics } from '../../runner/runner-metrics.js';
import { bindSchedulerMetrics } from '../../scheduler/scheduler-metrics.js';
import { Scheduler } from '../../scheduler/scheduler.js';
import { freshQueuePrefix, freshZkRoot, requireZk, testZk } from '../support/env.js';
import { Harness } from '../support/harness.js';
import { Probe } from '../support/probe.js';
import { promValue, scrape } from '../support/prom-text.js';
import { realBackend, realQueue } from '../support/real-backend.js';

const CLUSTER = 'metrics:c1';
const NODES = ['m1', 'm2', 'm3', 'm4'];

async function until(what: string, pred: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('integration: /metrics of router, runners and scheduler during a rollout', function () {
  this.timeout(120_000);
  let h: Harness;
  let probe: Probe;
  const servers: MetricsServer[] = [];
  const metricsOf = new Map<string, TaskermanMetrics>();
  const urls = new Map<string, string>();
  let scanner: FleetScanner;
  const closers: Array<() => Promise<void>> = [];
  let openGate: () => void = () => undefined;

  const metricsFor = (who: string): TaskermanMetrics => {
    let m = metricsOf.get(who);
    if (!m) metricsOf.set(who, (m = createMetrics({ component: who, processMetrics: who === 'router' })));
    return m;
  };

  async function serve(who: string, beforeScrape?: () => Promise<void>): Promise<void> {
    const s = new MetricsServer({ registry: metricsFor(who).registry, port: 0, ...(beforeScrape ? { beforeScrape } : {}) });
    await s.start();
    servers.push(s);
    urls.set(who, s.url);
  }

  const runnerSum = async (name: string, labels: Record<string, string> = {}) => {
    let sum = 0;
    for (const n of NODES) sum += promValue(await scrape(urls.get(`runner:${n}`) as string), name, labels) ?? 0;
    return sum;
  };

  before(async function () {
    requireZk(this);
    probe = new Probe();
    const root = freshZkRoot();
    h = new Harness({
      backend: await realBackend(root),
      cluster: CLUSTER,
      nodes: NODES,
      zkRoot: root,
      queuePrefix: freshQueuePrefix(),
      actions: [probe.action()],
      visibilitySec: 5,
      wrapQueue: (q, who) => (who === 'store' ? q : instrumentQueue(q, metricsFor(who))),
    });
    await h.start();
    const router = h.routers[0];
    assert.ok(router);
    bindRouterMetrics(router, metricsFor('router'));
    trackZkSession(h.store.coordinator, metricsFor('router'));
    scanner = new FleetScanner({ store: h.store, queue: h.queue, names: h.names, logger: silentLogger, intervalMs: 60_000, queueIntervalMs: 60_000 });
    bindFleetMetrics(scanner, metricsFor('router'));
    await serve('router', async () => {
      await scanner.scanNow();
      await scanner.scanQueuesNow();
    });
    for (const n of NODES) {
      const runner = h.runners.get(n);
      assert.ok(runner);
      bindRunnerMetrics(runner, metricsFor(`runner:${n}`), h.store);
      await serve(`runner:${n}`);
    }
  });

  // A failed assertion in the first test must not leave m1 and m2 in execute for good (the hook that stops the
  // runners would wait on them until mocha's timeout), nor its task running into the next test's (which makes
  // m1 and m2 fail): the gate opens, and the task is let finish, whatever the test found.
  let rollout: string | undefined;
  afterEach(async () => {
    openGate();
    if (rollout) await h.waitFinal(rollout, 30_000).catch(() => undefined);
    rollout = undefined;
  });

  after(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
    await scanner?.stop();
    await h?.stop();
    for (const c of closers) await c().catch(() => undefined);
  });

  it('counts a rollout with a retry: items, attempts, retries, grant waits, handoffs, grants held and waiting', async () => {
    const gate = new Promise<void>((r) => (openGate = r));
    probe.onExecute = () => gate;
    probe.failUntil.set('m3', 1);
    const before = await scrape(urls.get('router') as string);
    assert.equal(promValue(before, 'taskerman_tasks_routed_total') ?? 0, 0);
    const taskId = (rollout = await h.submit({ limit: 2, args: { ms: 20 }, retry: { count: 2, backoff: '100ms' } }));

    // Two nodes in execute (held at the gate), two waiting for a grant: the router's fleet gauges say so.
    await h.waitFor(taskId, 'two started and two waiting', (ns) => ns.filter((n) => n.state === 'STARTED').length === 2 && ns.filter((n) => n.state === 'WAITING').length === 2);
    // A node records WAITING a moment before its request for a grant is in ZooKeeper, and STARTED a moment
    // before its runner marks the task running (noteStarted is not awaited on the way to the action): look
    // until both are in ZooKeeper. Nothing below can move while the gate holds m1 and m2 in execute.
    let mid = '';
    await until('two grants waiting and the task running', async () => {
      mid = await scrape(urls.get('router') as string);
      return promValue(mid, 'taskerman_grants_waiting', { cluster: CLUSTER }) === 2 && promValue(mid, 'taskerman_tasks', { state: 'running' }) === 1;
    });
    assert.equal(promValue(mid, 'taskerman_grants_held', { cluster: CLUSTER }), 2);
    assert.equal(promValue(mid, 'taskerman_members_live', { cluster: CLUSTER }), 4);
    // The record says STARTED a moment before the runner that wrote it hears back and emits the event.
    await until('two runners executing', async () => (await runnerSum('taskerman_runner_executing')) === 2);
    openGate();

    const { task, nodes } = await h.waitFinal(taskId);
    assert.equal(task.state, 'succeeded', nodes.map((n) => `${n.node}=${n.state}`).join(' '));
    const router = await scrape(urls.get('router') as string);
    assert.equal(promValue(router, 'taskerman_tasks_routed_total'), 1);
    assert.equal(promValue(router, 'taskerman_work_items_sent_total'), 4);
    assert.equal(promValue(router, 'taskerman_grants_held', { cluster: CLUSTER }), 0);
    assert.equal(promValue(router, 'taskerman_tasks', { state: 'succeeded' }), 1);
    assert.equal(promValue(router, 'taskerman_zookeeper_session_state', { state: 'connected' }), 1);
    assert.ok((promValue(router, 'taskerman_sqs_requests_total', { operation: 'ReceiveMessage' }) ?? 0) > 0, 'the router counts its SQS calls');
    assert.ok((promValue(router, 'taskerman_sqs_requests_total', { operation: 'SendMessageBatch' }) ?? 0) >= 4, 'one batch per node queue');
    assert.equal(promValue(router, 'taskerman_queue_messages', { queue: h.names.global, state: 'visible' }), 0, 'the global queue is drained');
    assert.ok(promValue(router, 'process_cpu_seconds_total') !== undefined, 'standard process metrics');

    assert.equal(await runnerSum('taskerman_work_items_total', { outcome: 'succeeded' }), 4);
    assert.equal(await runnerSum('taskerman_action_duration_seconds_count', { action: 'probe', result: 'succeeded' }), 4);
    assert.equal(await runnerSum('taskerman_action_duration_seconds_count', { action: 'probe', result: 'failed' }), 1);
    assert.ok((await runnerSum('taskerman_action_duration_seconds_sum', { action: 'probe' })) > 0);
    assert.equal(await runnerSum('taskerman_retries_total', { cluster: CLUSTER }), 1, 'm3 was retried once');
    assert.equal(await runnerSum('taskerman_grant_wait_seconds_count', { cluster: CLUSTER }), 4, 'each node waited for its grant once (the retry kept it)');
    // m3 and m4 waited while m1 and m2 finished: at least one start came right after a freed grant.
    await until('a handoff observed', async () => (await runnerSum('taskerman_handoff_seconds_count', { cluster: CLUSTER })) >= 1);
    assert.equal(await runnerSum('taskerman_node_transitions_total', { cluster: CLUSTER, state: 'FAILED' }), 1);
    assert.ok((await runnerSum('taskerman_sqs_requests_total', { operation: 'DeleteMessage' })) >= 4, 'runners ack through the counted client');
  });

  it('counts a dead letter, the breaker trip and the dead-letter queue depth', async () => {
    probe.onExecute = undefined;
    // Both fail: whichever gets the grant first dies and keeps its grant (DEAD), the other is still waiting,
    // so the breaker has something to stop and the task halts.
    probe.failUntil.set('m2', 99);
    probe.failUntil.set('m1', 99);
    const taskId = await h.submit({ limit: 1, nodes: ['m2', 'm1'], args: { ms: 10 }, retry: { count: 0, backoff: '100ms' }, max_failures: 1 });
    const { task } = await h.waitFinal(taskId);
    assert.equal(task.state, 'halted');
    // The task record says halted a moment before the runner that halted it is back from the breaker.
    await until('the breaker trip counted', async () => (await runnerSum('taskerman_breaker_trips_total', { cluster: CLUSTER })) === 1);
    assert.equal(await runnerSum('taskerman_dead_letters_total', { component: 'runner', code: 'ACTION_FAILED' }), 1);
    assert.equal(await runnerSum('taskerman_work_items_total', { outcome: 'dead' }), 1);
    const router = await scrape(urls.get('router') as string);
    assert.equal(promValue(router, 'taskerman_queue_messages', { queue: h.names.clusterDlq(CLUSTER), kind: 'cluster_dlq', state: 'visible' }), 1);
    assert.equal(promValue(router, 'taskerman_tasks', { state: 'halted' }), 1);
  });

  it('counts the scheduler\'s fires and shows its leadership', async () => {
    const zk = testZk() as string;
    const root = freshZkRoot();
    const names = queueNames(freshQueuePrefix());
    const coordinator = await ZkCoordinator.connect({ connectionString: zk, sessionTimeoutMs: 4000 });
    const queue = realQueue();
    const m = metricsFor('scheduler');
    const source = async () => ({ specs: [{ file: 'tick.yaml', spec: parseTaskSpec({ name: 'tick', action: 'noop', cluster: 'c9', nodes: ['x'], schedule: '* * * * * *', timezone: 'UTC' }) }], issues: [] });
    const scheduler = new Scheduler({ queue: instrumentQueue(queue, m), names, coordinator, root, source, logger: silentLogger });
    await queue.ensureQueue({ name: names.global, deadLetter: names.globalDlq, maxReceiveCount: 10, visibilityTimeoutSec: 30 });
    const refresh = bindSchedulerMetrics(scheduler, m);
    await serve('scheduler', async () => refresh());
    try {
      await scheduler.start();
      await until('two fires counted', async () => (promValue(await scrape(urls.get('scheduler') as string), 'taskerman_scheduler_fires_total', { spec: 'tick' }) ?? 0) >= 2);
      const text = await scrape(urls.get('scheduler') as string);
      assert.equal(promValue(text, 'taskerman_scheduler_leader'), 1);
      assert.equal(promValue(text, 'taskerman_scheduler_specs'), 1);
      assert.ok((promValue(text, 'taskerman_scheduler_fire_delay_seconds_count') ?? 0) >= 2);
      assert.ok((promValue(text, 'taskerman_sqs_requests_total', { operation: 'SendMessage' }) ?? 0) >= 2);
    } finally {
      await scheduler.stop();
      await queue.close();
      await coordinator.removeRecursive(root).catch(() => undefined);
      await coordinator.close();
    }
  });
});
