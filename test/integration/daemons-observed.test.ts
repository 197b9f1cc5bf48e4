// The daemons as an operator starts them (separate processes, real ZooKeeper and SQS servers) with
// --metrics-port and --notify-url: their /metrics answer over HTTP and count the work they did, and the
// router posts a notification when a task is cancelled.
import assert from 'node:assert/strict';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { cliEnv, runCli, startCli, type Daemon } from '../support/cli-run.js';
import { freshQueuePrefix, freshZkRoot, requireZk, testSqsEndpoint } from '../support/env.js';
import { promValue } from '../support/prom-text.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { freePort } from '../support/zk-server.js';

async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const get = async (url: string) => (await fetch(url)).text();

describe('integration: daemons started with --metrics-port and --notify-url', function () {
  this.timeout(180_000);
  const daemons: Daemon[] = [];
  let receiver: WebhookReceiver;
  let root: string;
  let zk: string;

  before(function () {
    zk = requireZk(this);
  });

  after(async () => {
    await Promise.allSettled(daemons.map((d) => d.stop()));
    await receiver?.stop();
    if (root) {
      const c = await ZkCoordinator.connect({ connectionString: zk });
      await c.removeRecursive(root).catch(() => undefined);
      await c.close();
    }
  });

  it('serve metrics that counted the rollout, and notify a cancel once', async () => {
    root = freshZkRoot();
    receiver = new WebhookReceiver();
    const hook = await receiver.start();
    const env = cliEnv({ TASKERMAN_ZK: zk, TASKERMAN_ZK_ROOT: root, AWS_ENDPOINT_URL_SQS: testSqsEndpoint(), TASKERMAN_QUEUE_PREFIX: freshQueuePrefix(), AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', SUDO_USER: 'oncall' });
    const [routerPort, runnerPort] = [await freePort(), await freePort()];
    const router = startCli(['router', '--metrics-port', String(routerPort), '--notify-url', hook, '--scan-interval', '1s'], env);
    const runner = startCli(['runner', '--cluster', 'obs:c1', '--node', 'n1', '--visibility', '5', '--metrics-port', String(runnerPort)], env);
    daemons.push(router, runner);
    await Promise.all([router.logged('router started'), runner.logged('runner started'), router.logged('metrics served'), runner.logged('metrics served')]);

    const run = await runCli(['run', 'sleep', '--cluster', 'obs:c1', '--nodes', 'n1', '--arg', 'seconds=0.2', '--wait'], env, 90_000);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);

    const runnerText = await get(`http://127.0.0.1:${runnerPort}/metrics`);
    assert.equal(promValue(runnerText, 'taskerman_work_items_total', { cluster: 'obs:c1', outcome: 'succeeded' }), 1);
    assert.equal(promValue(runnerText, 'taskerman_action_duration_seconds_count', { action: 'sleep', result: 'succeeded' }), 1);
    assert.ok((promValue(runnerText, 'taskerman_action_duration_seconds_sum', { action: 'sleep' }) ?? 0) >= 0.2);
    assert.equal(promValue(runnerText, 'taskerman_build_info', { component: 'runner' }), 1);
    assert.ok((promValue(runnerText, 'taskerman_sqs_requests_total', { operation: 'ReceiveMessage' }) ?? 0) >= 1);
    assert.equal(promValue(runnerText, 'taskerman_zookeeper_session_state', { state: 'connected' }), 1);
    assert.ok(promValue(runnerText, 'process_resident_memory_bytes') !== undefined);

    // A task whose only target has no runner stays routed; cancelling it is announced once.
    const ghost = await runCli(['run', 'noop', '--cluster', 'obs:c1', '--nodes', 'ghost'], env);
    assert.equal(ghost.code, 0, ghost.stderr);
    const ghostId = ghost.stdout.trim();
    await until('the ghost task routed', async () => (await runCli(['status', ghostId, '--json'], env)).stdout.includes('"state": "routed"'));
    assert.equal((await runCli(['cancel', ghostId], env)).code, 0);
    await until('the cancel notified', () => receiver.bodies.some((b) => b.kind === 'task_cancelled'));

    const routerText = await get(`http://127.0.0.1:${routerPort}/metrics`);
    assert.equal(promValue(routerText, 'taskerman_tasks_routed_total'), 2);
    assert.equal(promValue(routerText, 'taskerman_work_items_sent_total'), 2);
    assert.equal(promValue(routerText, 'taskerman_members_live', { cluster: 'obs:c1' }), 1);
    assert.equal(promValue(routerText, 'taskerman_notifications_total', { kind: 'task_cancelled', result: 'sent' }), 1);
    const cancels = receiver.bodies.filter((b) => b.kind === 'task_cancelled');
    assert.equal(cancels.length, 1);
    assert.equal(cancels[0]?.task_id, ghostId);
    assert.match(String(cancels[0]?.summary), /cancelled by oncall/);

    assert.equal(await router.stop(), 0, router.output.stderr);
    assert.equal(await runner.stop(), 0, runner.output.stderr);
  });
});
