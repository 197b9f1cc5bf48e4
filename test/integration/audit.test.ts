// The audit trail, through the `taskerman` command run as an operator would (separate processes, a real
// ZooKeeper server and the SQS server): run, submit, pause, resume, cancel, dlq redrive, dlq purge and gc
// are each recorded with the user who ran them, the host, the task or cluster, and the outcome — a refused
// command too; `taskerman audit` lists them (text and JSON, filtered by cluster), and old days are pruned.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { listAudit, pruneAudit, recordAudit } from '../../core/audit/audit-log.js';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { TaskStore } from '../../core/task/task-store.js';
import { newTaskId } from '../../core/task/task.js';
import { cliEnv, runCli } from '../support/cli-run.js';
import { freshQueuePrefix, freshZkRoot, requireZk, testSqsEndpoint } from '../support/env.js';
import { realQueue } from '../support/real-backend.js';

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('integration: the audit trail of operator commands', function () {
  this.timeout(180_000);
  let zk: string;
  let root: string;
  let prefix: string;
  let admin: ZkCoordinator;
  let dir: string;

  before(async function () {
    zk = requireZk(this);
    root = freshZkRoot();
    prefix = freshQueuePrefix();
    admin = await ZkCoordinator.connect({ connectionString: zk });
    dir = await mkdtemp(path.join(tmpdir(), 'audit-'));
    const q = realQueue();
    const names = queueNames(prefix);
    await q.ensureQueue({ name: names.global, deadLetter: names.globalDlq, maxReceiveCount: 10, visibilityTimeoutSec: 30 });
    // The cluster's queues exist once a router fanned out to it: `dlq --cluster` refuses a cluster without them.
    await q.ensureQueue({ name: names.cluster('audit:c1'), deadLetter: names.clusterDlq('audit:c1'), maxReceiveCount: 10, visibilityTimeoutSec: 30 });
    await q.close();
  });

  after(async () => {
    await admin?.removeRecursive(root).catch(() => undefined);
    await admin?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('records each operator command with its user, host and outcome; `audit` lists them', async () => {
    const env = (user: string) =>
      cliEnv({ TASKERMAN_ZK: zk, TASKERMAN_ZK_ROOT: root, AWS_ENDPOINT_URL_SQS: testSqsEndpoint(), TASKERMAN_QUEUE_PREFIX: prefix, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', SUDO_USER: user });
    const ok = (r: { code: number | null; stdout: string; stderr: string }, what: string) => assert.equal(r.code, 0, `${what}: ${r.stdout}\n${r.stderr}`);

    // A task record to pause, resume and cancel (as a router would have written it).
    const store = new TaskStore(admin, root);
    await store.init();
    const taskId = newTaskId();
    const spec = parseTaskSpec({ name: 'audited', action: 'noop', cluster: 'audit:c1', nodes: ['n1'] });
    await store.createTask({ task: { taskId, spec, emittedBy: { kind: 'cli', user: 'alice' }, emittedAt: new Date().toISOString() }, targets: ['n1'], limit: 1, maxFailures: 1, state: 'routing' });
    await store.setTaskState(taskId, 'routed');
    const specFile = path.join(dir, 'spec.yaml');
    await writeFile(specFile, 'name: from-file\naction: noop\ncluster: "audit:c2"\nnodes: [x]\n');

    const run = await runCli(['run', 'noop', '--cluster', 'audit:c1', '--nodes', 'n1,n2'], env('alice'));
    ok(run, 'run');
    const runId = run.stdout.trim();
    ok(await runCli(['submit', specFile], env('bob')), 'submit');
    ok(await runCli(['pause', taskId], env('carol')), 'pause');
    ok(await runCli(['resume', taskId], env('carol')), 'resume');
    ok(await runCli(['cancel', taskId], env('dave')), 'cancel');
    // Refused (already cancelled tasks cannot be paused): recorded as failed.
    const refused = await runCli(['pause', taskId], env('erin'));
    assert.notEqual(refused.code, 0);
    ok(await runCli(['dlq', 'redrive', '--cluster', 'audit:c1'], env('frank')), 'dlq redrive');
    ok(await runCli(['dlq', 'purge', '--yes'], env('grace')), 'dlq purge');
    ok(await runCli(['gc', '--older-than', '7d'], env('heidi')), 'gc');
    const policyFile = path.join(dir, 'policy.yaml');
    await writeFile(policyFile, 'cluster: "audit:c1"\nbudget: 1\n');
    ok(await runCli(['policy', 'apply', policyFile], env('judy')), 'policy apply');
    ok(await runCli(['hold', 'audit:c1', '--node', 'n9', '--reason', 'disk swap'], env('kim')), 'hold');
    ok(await runCli(['release', 'audit:c1', '--node', 'n9', '--reason', 'swapped'], env('kim')), 'release');

    const listed = await runCli(['audit', '--since', '1h', '--json'], env('ivan'));
    ok(listed, 'audit --json');
    const entries = JSON.parse(listed.stdout) as Array<Record<string, unknown>>;
    const seen = entries.map((e) => `${String(e.command)}:${String(e.user)}:${String(e.outcome)}`);
    assert.deepEqual(seen, ['run:alice:ok', 'submit:bob:ok', 'pause:carol:ok', 'resume:carol:ok', 'cancel:dave:ok', 'pause:erin:failed', 'dlq redrive:frank:ok', 'dlq purge:grace:ok', 'gc:heidi:ok', 'policy apply:judy:ok', 'hold:kim:ok', 'release:kim:ok']);
    for (const e of entries) {
      assert.match(String(e.at), ISO_MS);
      assert.equal(e.host, hostname());
    }
    assert.equal(entries[0]?.task_id, runId, 'run records the task id it emitted');
    assert.equal(entries[0]?.cluster, 'audit:c1');
    assert.equal(entries[1]?.cluster, 'audit:c2');
    assert.equal(entries[4]?.task_id, taskId);
    assert.match(String(entries[5]?.error), /cancelled/);

    const c1 = await runCli(['audit', '--since', '1h', '--cluster', 'audit:c1'], env('ivan'));
    ok(c1, 'audit --cluster');
    const c1Lines = c1.stdout.trim().split('\n');
    assert.equal(c1Lines.length, 9, c1.stdout); // run, pause, resume, cancel, pause (refused), redrive, policy apply, hold, release; not submit (c2), purge, gc (no cluster)
    assert.ok(c1Lines.every((l) => l.includes('audit:c1')));
  });

  it('keeps days within the retention and removes older ones', async () => {
    const r2 = freshZkRoot();
    const now = Date.parse('2026-11-30T12:00:00.000Z');
    for (const daysAgo of [0, 1, 40, 100]) await recordAudit(admin, r2, { command: 'gc', user: 'ops', at: new Date(now - daysAgo * 86_400_000) });
    const removed = await pruneAudit(admin, r2, 90 * 86_400_000, now);
    assert.deepEqual(removed, ['20260822']);
    const left = await listAudit(admin, r2, { since: new Date(0) });
    assert.equal(left.length, 3);
    await admin.removeRecursive(r2);
  });
});
