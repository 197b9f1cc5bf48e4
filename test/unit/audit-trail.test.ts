// The CLI's audit trail written concurrently with the command: while `run --wait` goes on
// (auditedInBackground), the record of a success is still written, the command learns when it is in, a trail
// that cannot be written is warned about before the command may end (and never fails it), and a failed action
// is recorded before its error is rethrown; `run` without --wait opens its session for the record while the
// task is sent (audited with an `opening` session), and closes it.
import assert from 'node:assert/strict';
import { listAudit } from '../../core/audit/audit-log.js';
import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { createLogger } from '../../core/logger.js';
import { audited, auditedInBackground } from '../../cli/audit-trail.js';
import type { Coordinator } from '../../core/coordination/coordinator.js';
import type { CommandContext } from '../../cli/command-context.js';
import type { CommonConfig } from '../../cli/config.js';

const ROOT = '/audit-trail-test';
const SINCE = new Date(Date.now() - 60_000);

function context(): { ctx: CommandContext; errs: string[]; outs: string[] } {
  const errs: string[] = [];
  const outs: string[] = [];
  const cfg: CommonConfig = { zk: '127.0.0.1:1', zkRoot: ROOT, region: 'us-east-1', sqsEndpoint: undefined, queuePrefix: 'taskerman', logLevel: 'silent', configFile: undefined, file: {} };
  return { ctx: { cfg, logger: createLogger({ level: 'silent' }), out: (l) => outs.push(l), err: (l) => errs.push(l) }, errs, outs };
}

describe('CLI audit trail written in the background', () => {
  let zk: MemoryCoordinatorStore;
  beforeEach(() => (zk = new MemoryCoordinatorStore()));
  afterEach(() => zk.stop());

  it('returns the action\'s value at once, and `recorded` settles once the record is in', async () => {
    const { ctx, errs } = context();
    const session = zk.session();
    const { value, recorded } = await auditedInBackground(
      ctx,
      { command: 'run', cluster: 'c1', args: { action: 'noop' } },
      async (w) => {
        w.taskId = 't-1';
        return 't-1';
      },
      session,
    );
    assert.equal(value, 't-1');
    await recorded;
    const entries = await listAudit(session, ROOT, { since: SINCE });
    assert.deepEqual(
      entries.map((e) => [e.command, e.cluster, e.taskId, e.outcome]),
      [['run', 'c1', 't-1', 'ok']],
    );
    assert.deepEqual(errs, []);
  });

  it('a trail that cannot be written is warned about before `recorded` settles, and does not fail the command', async () => {
    const { ctx, errs } = context();
    const session = zk.session();
    const { value, recorded } = await auditedInBackground(ctx, { command: 'run', cluster: 'c1' }, async () => {
      // ZooKeeper goes away between the send and the record.
      zk.suspend(session);
      return 'sent';
    }, session);
    assert.equal(value, 'sent');
    await recorded; // never rejects
    assert.equal(errs.length, 1, errs.join('\n'));
    assert.match(errs[0] ?? '', /^taskerman: warning: the audit trail could not record this run: /);
    zk.resume(session);
    assert.deepEqual(await listAudit(session, ROOT, { since: SINCE }), []);
  });

  it('a failed action is recorded as failed before its error is rethrown; nothing is left to await', async () => {
    const { ctx, errs } = context();
    const session = zk.session();
    await assert.rejects(
      auditedInBackground(ctx, { command: 'submit', cluster: 'c1' }, async () => {
        throw new Error('SQS said no');
      }, session),
      /SQS said no/,
    );
    const entries = await listAudit(session, ROOT, { since: SINCE });
    assert.deepEqual(
      entries.map((e) => [e.command, e.outcome]),
      [['submit', 'failed']],
    );
    assert.match(entries[0]?.error ?? '', /SQS said no/);
    assert.deepEqual(errs, []);
  });

  it('a session opened for the record connects while the action runs, gets the record, and is closed', async () => {
    const { ctx, errs } = context();
    const session = zk.session();
    let connect!: (c: Coordinator) => void;
    const opening = new Promise<Coordinator>((resolve) => (connect = resolve));
    // The session opens only once the action runs: were the action made to wait for it, this would never end.
    const value = await audited(ctx, { command: 'run', cluster: 'c1' }, async (w) => {
      connect(session);
      w.taskId = 't-2';
      return 't-2';
    }, { opening });
    assert.equal(value, 't-2');
    const reader = zk.session();
    assert.deepEqual((await listAudit(reader, ROOT, { since: SINCE })).map((e) => [e.command, e.taskId, e.outcome]), [['run', 't-2', 'ok']]);
    // Closed by the audit trail once the record was in.
    await assert.rejects(session.get('/'), /closed/);
    assert.deepEqual(errs, []);
  });

  it('a session that cannot be opened for the record is a warning: the action\'s result stands', async () => {
    const { ctx, errs } = context();
    const opening = Promise.reject(new Error('ZooKeeper at 127.0.0.1:1 unreachable'));
    opening.catch(() => undefined);
    const value = await audited(ctx, { command: 'run', cluster: 'c1' }, async () => 'sent', { opening });
    assert.equal(value, 'sent');
    assert.equal(errs.length, 1, errs.join('\n'));
    assert.match(errs[0] ?? '', /^taskerman: warning: the audit trail could not record this run: .*unreachable/);
  });
});
