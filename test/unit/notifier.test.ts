// The notifier against a receiver on loopback: retries with backoff until the receiver accepts, gives up on
// a refusal (4xx), posts the Slack shape when asked, drops the oldest when its bounded queue is full, and
// never makes notify() wait.
import assert from 'node:assert/strict';
import { silentLogger } from '../../core/logger.js';
import { createMetrics } from '../../core/metrics/metrics.js';
import type { Notification } from '../../core/notify/notification.js';
import { Notifier } from '../../core/notify/notifier.js';
import { OptionError } from '../../core/errors.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import { promValue } from '../support/prom-text.js';

const note = (key: string): Notification => ({ kind: 'task_halted', key, severity: 'critical', summary: `task ${key} halted`, at: '2026-11-30T10:00:00.000Z', cluster: 'c1', taskId: key });

async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('notifier', () => {
  let receiver: WebhookReceiver;
  let notifier: Notifier | undefined;
  beforeEach(() => {
    receiver = new WebhookReceiver();
  });
  afterEach(async () => {
    await notifier?.stop(0);
    notifier = undefined;
    await receiver.stop();
  });

  it('retries a 503 with backoff and posts once accepted', async () => {
    receiver.script = [503, 500];
    const metrics = createMetrics({ processMetrics: false });
    notifier = new Notifier({ url: await receiver.start(), logger: silentLogger, component: 'test', backoffMs: 10, retries: 3, metrics });
    await notifier.start();
    notifier.notify(note('t1'));
    await until('the third post', () => receiver.bodies.length === 3);
    await until('counted as sent', async () => promValue(await metrics.registry.metrics(), 'taskerman_notifications_total', { kind: 'task_halted', result: 'sent' }) === 1);
    assert.deepEqual(receiver.bodies.map((b) => b.task_id), ['t1', 't1', 't1']);
  });

  it('does not retry a refusal (400), and counts it failed', async () => {
    receiver.script = [400];
    const metrics = createMetrics({ processMetrics: false });
    notifier = new Notifier({ url: await receiver.start(), logger: silentLogger, component: 'test', backoffMs: 10, retries: 3, metrics });
    await notifier.start();
    notifier.notify(note('t2'));
    notifier.notify(note('t3'));
    await until('the second notification', () => receiver.bodies.length === 2);
    assert.deepEqual(receiver.bodies.map((b) => b.task_id), ['t2', 't3']);
  });

  it('posts a Slack-compatible body when asked', async () => {
    notifier = new Notifier({ url: await receiver.start(), format: 'slack', logger: silentLogger, component: 'router' });
    await notifier.start();
    notifier.notify(note('t4'));
    await until('a post', () => receiver.bodies.length === 1);
    const b = receiver.bodies[0] as { text: string; blocks: Array<{ type: string }> };
    assert.match(b.text, /task t4 halted/);
    assert.equal(b.blocks[0]?.type, 'section');
  });

  it('posts an event once per process, and notify() never waits on a hanging receiver', async () => {
    receiver.hang = true;
    const metrics = createMetrics({ processMetrics: false });
    notifier = new Notifier({ url: await receiver.start(), logger: silentLogger, component: 'test', maxQueued: 2, timeoutMs: 60_000, metrics });
    await notifier.start();
    notifier.notify(note('a'));
    await until('the first post held', () => receiver.held.length === 1);
    for (const k of ['b', 'c', 'd', 'd']) notifier.notify(note(k));
    // 'a' in flight; the queue holds two: 'b' was dropped for 'c' and 'd'; the second 'd' is the same event.
    assert.equal(notifier.pending, 2);
    assert.equal(promValue(await metrics.registry.metrics(), 'taskerman_notifications_total', { result: 'dropped' }), 1);
  });

  it('refuses a URL that is not http(s), naming the option', () => {
    assert.throws(() => new Notifier({ url: 'ftp://x', logger: silentLogger, component: 'test' }), (e: unknown) => e instanceof OptionError && /notify-url/.test(e.message));
  });
});
