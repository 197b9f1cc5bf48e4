// systemd:restart through the in-memory service manager: the unit from the runner config only, a restart
// proven by a new invocation, once per task across attempts, a crash loop or a failing health command fails.
import assert from 'node:assert/strict';
import { createSystemdRestartAction } from '../../../actions/systemd/restart.js';
import { MemoryServiceManager } from '../../../actions/kit/memory-service-manager.js';
import { ActionRegistry } from '../../../actions/registry.js';
import { actionContext, runSteps } from '../../support/action-context.js';

const config = { units: { cassandra: { unit: 'cassandra.service' }, flaky: { unit: 'flaky.service', health: { argv: [process.execPath, '-e', 'process.exit(1)'], timeout_seconds: 1, interval_seconds: 0.2 } } } };

describe('systemd:restart', () => {
  it('restarts the configured unit once and sees it active under a new invocation', async () => {
    const sm = new MemoryServiceManager({ 'cassandra.service': {} });
    const action = createSystemdRestartAction(config, sm);
    const before = (await sm.status('cassandra.service', new AbortController().signal)).invocationId;
    const ctx = actionContext(action, { unit: 'cassandra', settle_seconds: 0 });
    await runSteps(action, ctx);
    assert.deepEqual(sm.calls.filter((c) => c.startsWith('restart')), ['restart cassandra.service']);
    assert.equal(ctx.stored['invocation_before:cassandra.service'], before);
    assert.notEqual((await sm.status('cassandra.service', new AbortController().signal)).invocationId, before);
  });

  it('does not restart again on a retried attempt that finds the restart done (idempotent through the checkpoint)', async () => {
    const sm = new MemoryServiceManager({ 'cassandra.service': {} });
    const action = createSystemdRestartAction(config, sm);
    const stored: Record<string, unknown> = {};
    await action.execute(actionContext(action, { unit: 'cassandra' }, { stored }));
    // The runner died after the restart; the next attempt runs every step again with the same checkpoint.
    await runSteps(action, actionContext(action, { unit: 'cassandra', settle_seconds: 0 }, { stored, attempt: 2, history: [{ attempt: 1, startedAt: new Date().toISOString(), interrupted: true }] }));
    assert.equal(sm.calls.filter((c) => c.startsWith('restart')).length, 1);
  });

  it('refuses a unit that is not in the runner config, with the allowed names, and never restarts anything', async () => {
    const sm = new MemoryServiceManager({ 'cassandra.service': {} });
    const action = createSystemdRestartAction(config, sm);
    await assert.rejects(action.preCheck!(actionContext(action, { unit: 'sshd' })), (e: Error & { retryable?: boolean; hint?: string }) => e.retryable === false && /not in this runner's systemd:restart config/.test(e.message) && /cassandra, flaky/.test(e.hint ?? ''));
    assert.deepEqual(sm.calls, []);
  });

  it('refuses on a runner with no systemd:restart config, saying where to add it', async () => {
    const action = createSystemdRestartAction(undefined, new MemoryServiceManager());
    await assert.rejects(action.preCheck!(actionContext(action, { unit: 'cassandra' })), /not configured on this runner/);
  });

  it('pre_check refuses a unit that is not active or not loaded', async () => {
    const sm = new MemoryServiceManager({ 'cassandra.service': { activeState: 'failed' } });
    const action = createSystemdRestartAction({ units: { cassandra: { unit: 'cassandra.service' }, gone: { unit: 'gone.service' } } }, sm);
    await assert.rejects(action.preCheck!(actionContext(action, { unit: 'cassandra' })), /not active/);
    await assert.rejects(action.preCheck!(actionContext(action, { unit: 'gone' })), /gone.service is not-found/);
  });

  it('post_check fails a unit that systemd keeps restarting by itself during the settle period', async () => {
    const sm = new MemoryServiceManager({ 'cassandra.service': {} });
    const action = createSystemdRestartAction(config, sm);
    const ctx = actionContext(action, { unit: 'cassandra', settle_seconds: 2, start_timeout_seconds: 1 });
    await action.execute(ctx);
    const loop = setInterval(() => sm.setState('cassandra.service', 'active', { newInvocation: true, autoRestart: true }), 300);
    try {
      await assert.rejects(action.postCheck!(ctx), /gave up waiting.*systemd restarted it by itself/);
    } finally {
      clearInterval(loop);
    }
  });

  it('post_check fails when the health command does not pass in time', async () => {
    const sm = new MemoryServiceManager({ 'flaky.service': {} });
    const action = createSystemdRestartAction(config, sm);
    const ctx = actionContext(action, { unit: 'flaky', settle_seconds: 0 });
    await action.execute(ctx);
    await assert.rejects(action.postCheck!(ctx), /health command of flaky.service.*exit code 1/);
  });

  it('validates its arguments with bounds', () => {
    const r = new ActionRegistry([createSystemdRestartAction(config, new MemoryServiceManager())]);
    const a = r.get('systemd:restart');
    assert.throws(() => r.parseArgs(a, { unit: 'cassandra', settle_seconds: 99999 }), /args.settle_seconds: .*3600/);
    assert.throws(() => r.parseArgs(a, {}), /args.unit/);
    assert.deepEqual(r.parseArgs(a, { unit: 'cassandra' }), { unit: 'cassandra', settle_seconds: 10, start_timeout_seconds: 300 });
  });
});
