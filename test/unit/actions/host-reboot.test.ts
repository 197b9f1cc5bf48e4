// host:reboot: reboots only when needed, records the boot id before, and after the runner comes back knows
// from the checkpoint and the new boot id that the reboot happened: a reboot across a runner restart
// completes once. The reboot command is a script that records each call; "the reboot" is the test killing
// the runner, writing a new boot id and starting a new runner on the same node.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { builtinRegistry } from '../../../actions/builtin.js';
import { createHostRebootAction, type HostRebootConfig } from '../../../actions/host/reboot.js';
import { hostRebootConfigSchema } from '../../../actions/host/reboot.js';
import { MemoryServiceManager } from '../../../actions/kit/memory-service-manager.js';
import { pollUntil } from '../../../actions/kit/poll.js';
import { MemoryCoordinatorStore } from '../../../core/coordination/memory-coordinator.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../../core/queue/memory-work-queue.js';
import { freshQueuePrefix, freshZkRoot } from '../../support/env.js';
import { Harness } from '../../support/harness.js';
import { actionContext, runSteps } from '../../support/action-context.js';

describe('host:reboot', () => {
  let dir: string;
  let bootIdFile: string;
  let rebootLog: string;
  let sentinel: string;
  const rebootCount = () => (existsSync(rebootLog) ? readFileSync(rebootLog, 'utf8').split('\n').filter(Boolean).length : 0);
  const config = (over: Partial<HostRebootConfig> = {}): HostRebootConfig =>
    hostRebootConfigSchema.parse({
      reboot_command: [process.execPath, '-e', `require('fs').appendFileSync(${JSON.stringify(rebootLog)}, 'reboot\\n')`],
      sentinel_file: sentinel,
      boot_id_file: bootIdFile,
      shutdown_wait_seconds: 60,
      units: ['app.service'],
      ...over,
    });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'taskerman-reboot-'));
    bootIdFile = join(dir, 'boot_id');
    rebootLog = join(dir, 'reboots');
    sentinel = join(dir, 'reboot-required');
    writeFileSync(bootIdFile, `${randomUUID()}\n`);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('does nothing when no reboot is required and force is off, and says so in the checkpoint', async () => {
    const sm = new MemoryServiceManager({ 'app.service': {} });
    const action = createHostRebootAction(config(), { serviceManager: sm });
    const ctx = actionContext(action, {});
    await runSteps(action, ctx);
    assert.equal(rebootCount(), 0);
    assert.equal(ctx.stored.reboot_not_needed, true);
  });

  it('refuses while another task is in flight on the node, or a blocker command fails', async () => {
    const sm = new MemoryServiceManager({ 'app.service': {} });
    const busy = createHostRebootAction(config(), { serviceManager: sm, nodeActivity: async () => ['other-task'] });
    await assert.rejects(busy.preCheck!(actionContext(busy, { force: true })), /other work is in flight on n1: other-task/);
    const blocked = createHostRebootAction(config({ blockers: [[process.execPath, '-e', 'console.error("backup running"); process.exit(1)']] }), { serviceManager: sm });
    await assert.rejects(blocked.preCheck!(actionContext(blocked, { force: true })), /blocker .*exit code 1: backup running; not rebooting/);
    assert.equal(rebootCount(), 0);
  });

  it('fails, and asks again on the next attempt, when the node does not go down after the reboot command', async () => {
    const sm = new MemoryServiceManager({ 'app.service': {} });
    const action = createHostRebootAction(config({ shutdown_wait_seconds: 1 }), { serviceManager: sm });
    writeFileSync(sentinel, '');
    const stored: Record<string, unknown> = {};
    await assert.rejects(action.execute(actionContext(action, {}, { stored })), /gave up waiting for the node to go down/);
    assert.equal(rebootCount(), 1);
    await assert.rejects(action.postCheck!(actionContext(action, {}, { stored })), /did not reboot/);
    // Same boot: the reboot never happened, so asking again is not a second reboot.
    await assert.rejects(action.execute(actionContext(action, {}, { stored, attempt: 2 })), /gave up waiting/);
    assert.equal(rebootCount(), 2);
  });

  it('a reboot across a runner restart completes once (in-memory backends, a real runner)', async function () {
    this.timeout(60_000);
    writeFileSync(sentinel, '');
    const sm = new MemoryServiceManager({ 'app.service': {} });
    const queues = new MemoryQueueStore();
    const zk = new MemoryCoordinatorStore();
    const h = new Harness({
      backend: { queue: () => new MemoryWorkQueue({ store: queues }), session: async () => zk.session(), cleanup: async () => zk.stop() },
      cluster: 'web:front',
      nodes: ['n1'],
      zkRoot: freshZkRoot(),
      queuePrefix: freshQueuePrefix(),
      visibilitySec: 3,
      registry: () => builtinRegistry({ actions: { 'host:reboot': config() }, deps: { serviceManager: sm } }),
    });
    try {
      await h.start();
      const taskId = await h.submit({ action: 'host:reboot', limit: 1, args: {}, timeout: '5m' });
      await pollUntil(async () => (rebootCount() === 1 ? { done: true, value: undefined } : { done: false, seen: `${rebootCount()} reboots` }), { what: 'the reboot command', timeoutMs: 30_000, intervalMs: 50, signal: new AbortController().signal });
      const during = await h.store.getNode(taskId, 'n1');
      assert.equal(during?.value.state, 'STARTED');
      assert.ok(typeof during?.value.checkpoint?.boot_id_before === 'string', 'the boot id was recorded before the reboot');
      // The machine goes down: the runner dies with it; it comes back with a new boot id.
      await h.runners.get('n1')!.kill();
      writeFileSync(bootIdFile, `${randomUUID()}\n`);
      rmSync(sentinel);
      await (await h.newRunner('n1')).start();
      const { task, nodes } = await h.waitFinal(taskId, 45_000);
      assert.equal(task.state, 'succeeded', JSON.stringify(nodes));
      assert.equal(rebootCount(), 1, 'rebooted exactly once');
      const n1 = nodes.find((n) => n.node === 'n1');
      assert.equal(n1?.history.length, 2);
      assert.match(n1?.history[0]?.error ?? '', /interrupted/);
      assert.notEqual(n1?.checkpoint?.boot_id_before, readFileSync(bootIdFile, 'utf8').trim());
    } finally {
      await h.stop();
    }
  });
});
