// The `taskerman` command as an operator uses it: separate processes (the router, one runner per node, and
// the one-shot commands) against the shared real ZooKeeper and SQS-protocol servers, each test under a fresh
// ZooKeeper root and queue prefix. Processes run from the sources (`node --import tsx cli/main.ts`), not
// bin/taskerman.js, so that a stale dist/ cannot hide a change. Nothing sleeps: tests wait for a process's
// output or exit, with a bounded timeout; every process still running after a test is killed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { freshQueuePrefix, freshZkRoot, requireZk, testSqsEndpoint } from '../support/env.js';
import { freePort } from '../support/zk-server.js';
import { within } from '../contract/coordinator.contract.js';
import { cli, cliEnv, COMMAND_MS, describeProc, ISO_MS, killAll, lines, start, TASK_ID, DRAIN_MS, waitForLog, type Proc } from '../support/cli-process.js';

describe('taskerman CLI (integration, separate processes)', function () {
  this.timeout(120_000);
  let zk = '';
  let sqs = '';

  before(function () {
    zk = requireZk(this);
    sqs = testSqsEndpoint();
  });

  afterEach(async function () {
    await killAll();
  });
  after(async function () {
    await killAll();
  });

  describe('a rollout through the router and four runners', function () {
    let root = '';
    let env: NodeJS.ProcessEnv = {};

    beforeEach(function () {
      root = freshZkRoot();
      env = cliEnv({
        TASKERMAN_ZK: zk,
        TASKERMAN_ZK_ROOT: root,
        AWS_ENDPOINT_URL_SQS: sqs,
        TASKERMAN_QUEUE_PREFIX: freshQueuePrefix(),
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
      });
    });

    afterEach(async function () {
      await killAll();
      const c = await ZkCoordinator.connect({ connectionString: zk });
      try {
        await c.removeRecursive(root);
      } finally {
        await c.close();
      }
    });

    it('run --wait succeeds on every node; status, status --json and tasks show it; daemons drain on SIGTERM', async function () {
      const router = start('router', ['router'], env);
      const runners = ['n1', 'n2', 'n3', 'n4'].map((n) => start(`runner ${n}`, ['runner', '--cluster', 'cli:test', '--node', n, '--visibility', '5'], env));
      await Promise.all([waitForLog(router, 'router started'), ...runners.map((r) => waitForLog(r, 'runner started'))]);

      const run = await cli(['run', 'sleep', '--cluster', 'cli:test', '--nodes', 'n1,n2,n3,n4', '--limit', '2', '--arg', 'seconds=0.2', '--wait'], env, 60_000);
      assert.equal(run.code, 0, `run --wait exited ${run.code}\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`);
      const taskId = lines(run.stdout)[0] ?? '';
      assert.match(taskId, TASK_ID, `the first line of stdout is the task id:\n${run.stdout}`);

      const st = await cli(['status', taskId, '--json'], env);
      assert.equal(st.code, 0, st.stderr);
      const status = JSON.parse(st.stdout) as {
        task_id: string;
        state: string;
        action: string;
        cluster: string;
        limit: number;
        nodes: { node: string; state: string; attempts: number; started_at: string | null; ended_at: string | null }[];
      };
      assert.equal(status.task_id, taskId);
      assert.equal(status.state, 'succeeded');
      assert.equal(status.action, 'sleep');
      assert.equal(status.cluster, 'cli:test');
      assert.equal(status.limit, 2);
      assert.deepEqual(status.nodes.map((n) => n.node).sort(), ['n1', 'n2', 'n3', 'n4']);
      for (const n of status.nodes) {
        assert.equal(n.state, 'SUCCEEDED', `${n.node}: ${JSON.stringify(n)}`);
        assert.equal(n.attempts, 1, `${n.node}: ${JSON.stringify(n)}`);
        assert.match(n.started_at ?? '', ISO_MS, `${n.node} started_at`);
        assert.match(n.ended_at ?? '', ISO_MS, `${n.node} ended_at`);
        assert.ok(Date.parse(n.started_at ?? '') <= Date.parse(n.ended_at ?? ''), `${n.node}: started ${n.started_at} after ended ${n.ended_at}`);
      }

      const text = await cli(['status', taskId], env);
      assert.equal(text.code, 0, text.stderr);
      assert.ok(text.stdout.includes(taskId), text.stdout);
      const header = lines(text.stdout).find((l) => /^NODE\s+STATE\s+ATTEMPTS\s+STARTED\s+ENDED/.test(l));
      assert.ok(header, `a table header in:\n${text.stdout}`);
      for (const n of ['n1', 'n2', 'n3', 'n4']) {
        const row = lines(text.stdout).find((l) => l.split(/\s+/)[0] === n);
        assert.ok(row, `a row for ${n} in:\n${text.stdout}`);
        assert.match(row, new RegExp(`^${n}\\s+SUCCEEDED\\s+1\\s+\\d{4}-`), row);
      }

      const tasks = await cli(['tasks', '--json'], env);
      assert.equal(tasks.code, 0, tasks.stderr);
      const list = JSON.parse(tasks.stdout) as { task_id: string; state: string; paused: { by: string; at: string } | null; action: string; cluster: string; done: number; total: number }[];
      const mine = list.find((t) => t.task_id === taskId);
      assert.ok(mine, `task ${taskId} in tasks --json:\n${tasks.stdout}`);
      assert.equal(mine.state, 'succeeded');
      assert.equal(mine.action, 'sleep');
      assert.equal(mine.cluster, 'cli:test');
      assert.equal(mine.done, 4);
      assert.equal(mine.total, 4);
      assert.equal(mine.paused, null, 'paused has one shape everywhere: {by, at} or null');

      // Drain: every daemon stops on SIGTERM and exits 0.
      const daemons = [router, ...runners];
      for (const d of daemons) d.child.kill('SIGTERM');
      const exits = await Promise.all(
        daemons.map((d) =>
          within(d.exited, `${d.name} to exit after SIGTERM`, DRAIN_MS).catch((err: unknown) => {
            throw new Error(`${(err as Error).message}\n${describeProc(d)}`);
          }),
        ),
      );
      for (const [i, e] of exits.entries()) {
        const d = daemons[i] as Proc;
        assert.deepEqual(e, { code: 0, signal: null }, `${d.name} exited ${JSON.stringify(e)}\n${describeProc(d)}`);
      }
    });
  });

  describe('validate', function () {
    let dir = '';
    beforeEach(async function () {
      dir = await mkdtemp(path.join(os.tmpdir(), 'taskerman-cli-validate-'));
    });
    afterEach(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    it('validate examples/tasks exits 0', async function () {
      const r = await cli(['validate', 'examples/tasks'], cliEnv({}));
      assert.equal(r.code, 0, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.equal(r.stderr, '');
      assert.ok(lines(r.stdout).length >= 1);
      for (const l of lines(r.stdout)) assert.match(l, /^examples\/tasks\/[^:]+\.ya?ml: ok$/);
    });

    it('a spec with limit 0 and one with an unknown field: exit 2, each problem named with its file and field', async function () {
      const zero = path.join(dir, 'zero-limit.yaml');
      const typo = path.join(dir, 'unknown-field.yaml');
      await writeFile(zero, 'name: zero-limit\naction: sleep\ncluster: c\nnodes: [n1]\nlimit: 0\n');
      await writeFile(typo, 'name: unknown-field\naction: sleep\ncluster: c\nnodes: [n1]\nlimt: 2\n');
      const r = await cli(['validate', dir], cliEnv({}));
      assert.equal(r.code, 2, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      const err = lines(r.stderr);
      assert.ok(err.includes(`${zero}: limit: must be a positive integer or a percentage like "10%"`), r.stderr);
      const unknown = err.filter((l) => l.startsWith(`${typo}: `));
      assert.equal(unknown.length, 1, r.stderr);
      assert.match(unknown[0] ?? '', /unknown field "limt"/);
      assert.ok(!r.stdout.includes(': ok'), `no file is reported ok:\n${r.stdout}`);
    });
  });

  describe('usage errors and an unreachable ZooKeeper', function () {
    it('run with --limit 0 exits 2 with one line naming limit', async function () {
      const r = await cli(['run', 'sleep', '--cluster', 'c', '--nodes', 'a', '--limit', '0'], cliEnv({}));
      assert.equal(r.code, 2, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.equal(r.stdout, '');
      const naming = lines(r.stderr).filter((l) => /\blimit\b/.test(l));
      assert.equal(naming.length, 1, `one line naming limit:\n${r.stderr}`);
      assert.match(naming[0] ?? '', /limit: must be a positive integer or a percentage like "10%"/);
      assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace:\n${r.stderr}`);
    });

    it('run of an unknown action exits 2 naming it', async function () {
      const r = await cli(['run', 'nope', '--cluster', 'c', '--nodes', 'a'], cliEnv({}));
      assert.equal(r.code, 2, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.equal(r.stdout, '');
      const naming = lines(r.stderr).filter((l) => l.includes('"nope"'));
      assert.equal(naming.length, 1, r.stderr);
      assert.match(naming[0] ?? '', /unknown action "nope"/);
      assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace:\n${r.stderr}`);
    });

    it('status with nothing listening on --zk exits 3 with a line naming ZooKeeper', async function () {
      const port = await freePort();
      const r = await cli(['status', '20990101T000000000Z-deadbeef', '--zk', `127.0.0.1:${port}`], cliEnv({ AWS_REGION: 'us-east-1' }));
      assert.equal(r.code, 3, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.equal(r.stdout, '');
      const naming = lines(r.stderr).filter((l) => l.includes('ZooKeeper'));
      assert.equal(naming.length, 1, r.stderr);
      assert.ok(naming[0]?.includes(`127.0.0.1:${port}`), r.stderr);
      assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace:\n${r.stderr}`);
    });

    it('run --wait with nothing listening on --zk: the task is sent all the same (the connect overlaps the send), and it says so with its id (exit 3)', async function () {
      const port = await freePort();
      const prefix = freshQueuePrefix();
      const names = queueNames(prefix);
      const queue = new SqsWorkQueue({ endpoint: sqs, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
      try {
        await queue.ensureQueue({ name: names.global, deadLetter: names.globalDlq, maxReceiveCount: 5, visibilityTimeoutSec: 30 });
        const env = cliEnv({ AWS_ENDPOINT_URL_SQS: sqs, TASKERMAN_QUEUE_PREFIX: prefix, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' });
        const r = await cli(['run', 'noop', '--cluster', 'c', '--destnode', 'a', '--wait', '--zk', `127.0.0.1:${port}`], env);
        assert.equal(r.code, 3, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
        const taskId = r.stdout.trim();
        assert.match(taskId, TASK_ID, 'the task id, alone on stdout');
        const said = lines(r.stderr).find((l) => l.includes('is enqueued'));
        assert.ok(said, r.stderr);
        assert.ok(said.includes(taskId) && said.includes(`ZooKeeper at 127.0.0.1:${port}`), said);
        assert.ok(r.stderr.includes(`taskerman status ${taskId} --watch`), `the hint says how to follow it:\n${r.stderr}`);
        assert.ok(!/\n\s+at /.test(r.stderr), `no stack trace:\n${r.stderr}`);
        const [msg] = await queue.receive(names.global, { max: 1, waitSec: 5, visibilitySec: 30 });
        assert.equal(msg?.attributes['taskerman.task_id'], taskId, 'the task is on the global queue');
      } finally {
        for (const name of await queue.list(prefix)) await queue.deleteQueue(name);
        await queue.close();
      }
    });

    it('output into a reader that stops early (`| head -1`): exits 0 quietly, no EPIPE stack trace', async function () {
      const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'schema'], { cwd: path.resolve(import.meta.dirname, '../..'), env: cliEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
      // The reader is gone before the command writes a byte.
      child.stdout.destroy();
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const [code] = (await within(once(child, 'exit'), 'schema to exit', COMMAND_MS)) as [number | null];
      assert.equal(stderr, '');
      assert.equal(code, 0);
    });

    it('run --help lists --cluster, --nodes, --limit, --arg, --wait and --json', async function () {
      const r = await cli(['run', '--help'], cliEnv({}));
      assert.equal(r.code, 0, r.stderr);
      for (const flag of ['--cluster', '--nodes', '--limit', '--arg', '--wait', '--json']) {
        assert.match(r.stdout, new RegExp(`^\\s+${flag}\\b`, 'm'), `${flag} in:\n${r.stdout}`);
      }
    });
  });
});
