// Issue 8 end to end, as an operator meets it: separate `taskerman` processes against a real ZooKeeper and the
// SQS-protocol server. Every --json output validates against its published schema (`schema --output`) and is
// the only thing on stdout; errors under --json are JSON with the same exit code; a wrong queue prefix or a
// misspelt cluster is an error naming the queue, region and prefix; `status` of a task still in the global
// queue says so; and a follower rides out ZooKeeper being stopped and started, or gives up with exit 3.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { newTaskId } from '../../core/task/task.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { TaskStore } from '../../core/task/task-store.js';
import { OUTPUT_NAMES, outputJsonSchema, type OutputName } from '../../cli/output/outputs.js';
import { cli, cliEnv, killAll, lines, start, TASK_ID, waitForLog, waitForOutput, type Proc } from '../support/cli-process.js';
import { freshQueuePrefix, freshZkRoot, requireZk, testSqsEndpoint } from '../support/env.js';
import { validateJsonSchema } from '../support/json-schema.js';
import { startZkServer, zookeeperAvailable, type ZkServer } from '../support/zk-server.js';
import { within } from '../contract/coordinator.contract.js';

/** Parses a command's whole stdout as one JSON document (a log line on stdout would fail here) and validates it. */
function validOutput(name: OutputName, stdout: string): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch (err) {
    assert.fail(`stdout is not one JSON document (${(err as Error).message}):\n${stdout}`);
  }
  assert.deepEqual(validateJsonSchema(outputJsonSchema(name), doc), [], `${name} output against its schema:\n${stdout}`);
  return doc;
}

const noStack = (s: string) => assert.ok(!/\n\s+at /.test(s), `no stack trace in:\n${s}`);

describe('taskerman CLI tells the truth (integration, issue 8)', function () {
  this.timeout(240_000); // the rollout test runs a dozen CLI processes; a loaded CI machine needs the room
  let zk = '';
  let sqs = '';
  let root = '';
  let prefix = '';
  let env: NodeJS.ProcessEnv = {};

  before(function () {
    zk = requireZk(this);
    sqs = testSqsEndpoint();
  });
  beforeEach(function () {
    root = freshZkRoot();
    prefix = freshQueuePrefix();
    env = cliEnv({
      TASKERMAN_ZK: zk,
      TASKERMAN_ZK_ROOT: root,
      AWS_ENDPOINT_URL_SQS: sqs,
      TASKERMAN_QUEUE_PREFIX: prefix,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
  });
  afterEach(async function () {
    await killAll();
    if (!zk) return;
    const c = await ZkCoordinator.connect({ connectionString: zk });
    try {
      await c.removeRecursive(root);
    } finally {
      await c.close();
    }
  });

  it('schema --output prints a JSON Schema for every output, and --list names them', async function () {
    const list = await cli(['schema', '--list'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(lines(list.stdout), OUTPUT_NAMES);
    const s = await cli(['schema', '--output', 'status'], env);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(JSON.parse(s.stdout), outputJsonSchema('status'));
    const bad = await cli(['schema', '--output', 'nope'], env);
    assert.equal(bad.code, 2);
  });

  it('every --json output of a rollout validates against its schema and is alone on stdout', async function () {
    const router = start('router', ['router'], env);
    const runners = ['j1', 'j2'].map((n) => start(`runner ${n}`, ['runner', '--cluster', 'json:test', '--node', n, '--visibility', '5'], env));
    await Promise.all([waitForLog(router, 'router started'), ...runners.map((r) => waitForLog(r, 'runner started'))]);

    const plan = await cli(['run', 'sleep', '--cluster', 'json:test', '--nodes', 'j1,j2', '--dry-run', '--json'], env);
    assert.equal(plan.code, 0, plan.stderr);
    validOutput('plan', plan.stdout);

    const run = await cli(['run', 'sleep', '--cluster', 'json:test', '--nodes', 'j1,j2', '--limit', '2', '--arg', 'seconds=0.1', '--owner', 'sre', '--wait', '--json'], env, 60_000);
    assert.equal(run.code, 0, run.stderr);
    const status = validOutput('status', run.stdout) as { task_id: string; state: string; owner: string; nodes: Array<{ duration_ms: number | null }> };
    assert.equal(status.state, 'succeeded');
    assert.equal(status.owner, 'sre');
    assert.ok(status.nodes.every((n) => typeof n.duration_ms === 'number'));
    assert.match(status.task_id, TASK_ID);

    const st = await cli(['status', status.task_id, '--json'], env);
    assert.equal(st.code, 0, st.stderr);
    validOutput('status', st.stdout);

    // A task on a node with no runner stays queued: pause, resume and cancel it.
    const queued = await cli(['run', 'noop', '--cluster', 'json:test', '--nodes', 'nobody', '--json'], env);
    assert.equal(queued.code, 0, queued.stderr);
    const { task_id: id } = validOutput('run', queued.stdout) as { task_id: string };
    const watch = start('status --watch', ['status', id, '--watch'], env);
    await waitForOutput(watch, 'stderr', /0\/1 succeeded/);
    for (const verb of ['pause', 'resume', 'cancel']) {
      const r = await cli([verb, id, '--json'], env);
      assert.equal(r.code, 0, `${verb}: ${r.stderr}`);
      const doc = validOutput('control', r.stdout) as { paused: unknown; cancelled: unknown };
      if (verb === 'pause') assert.ok(doc.paused !== null, 'paused is an object {by, at}');
    }
    // status --watch of a cancelled task exits 1, as run --wait does (item 8).
    const w = await within(watch.exited, 'status --watch to end', 30_000);
    assert.equal(w.code, 1, watch.stderr);
    assert.match(lines(watch.stderr).at(-1) ?? '', new RegExp(`^taskerman: task ${id} ended cancelled`));

    const tasks = await cli(['tasks', '--json', '--owner', 'sre'], env);
    assert.equal(tasks.code, 0, tasks.stderr);
    const rows = validOutput('tasks', tasks.stdout) as Array<{ task_id: string; owner: string }>;
    assert.deepEqual(rows.map((r) => r.task_id), [status.task_id], 'only the task owned by sre');
    const text = await cli(['tasks', '--state', 'cancelled'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(lines(text.stdout)[0] ?? '', /^TASK\s+STATE\s+SUCCEEDED\s+FAILED\s+NAME\s+OWNER\s+ACTION\s+CLUSTER\s+EMITTED\s+BY$/);
    assert.equal(lines(text.stdout).length, 2, text.stdout);

    const dlq = await cli(['dlq', 'list', '--json'], env);
    assert.equal(dlq.code, 0, dlq.stderr);
    validOutput('dlq-list', dlq.stdout);
    const gc = await cli(['gc', '--older-than', '1d', '--json'], env);
    assert.equal(gc.code, 0, gc.stderr);
    validOutput('gc', gc.stdout);
    const v = await cli(['validate', 'examples/tasks', '--json'], env);
    assert.equal(v.code, 0, v.stderr);
    validOutput('validate', v.stdout);
  });

  it('a wrong --queue-prefix: exit 3, one line naming queue, region and prefix; under --json an error object (was: exit 1 and a stack)', async function () {
    const r = await cli(['run', 'noop', '--cluster', 'c', '--nodes', 'a', '--queue-prefix', 'nosuchprefix', '--region', 'eu-west-3', '--json'], env);
    assert.equal(r.code, 3, r.stderr);
    const err = validOutput('error', r.stdout) as { error: { code: string; exit_code: number } };
    assert.equal(err.error.code, 'QUEUE_MISSING');
    assert.equal(err.error.exit_code, 3);
    assert.equal(lines(r.stderr).length, 1, r.stderr);
    assert.match(r.stderr, /^taskerman: queue nosuchprefix--global does not exist in region eu-west-3 \(queue prefix "nosuchprefix"\) \(check --region/);
    noStack(r.stderr);
  });

  it('dlq list of a misspelt cluster is an error, not "no dead letters" (item 6); status of a task still in the global queue says so (item 5)', async function () {
    const names = queueNames(prefix);
    const q = new SqsWorkQueue({ region: 'us-east-1', endpoint: sqs, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    try {
      await q.ensureQueue({ name: names.global, deadLetter: names.globalDlq, maxReceiveCount: 10, visibilityTimeoutSec: 30 });
    } finally {
      await q.close();
    }
    const d = await cli(['dlq', 'list', '--cluster', 'cassandra:geo_countr'], env);
    assert.equal(d.code, 3, `${d.stdout}\n${d.stderr}`);
    assert.equal(d.stdout, '');
    assert.match(d.stderr, /^taskerman: queue \S+-dlq does not exist in region us-east-1 \(queue prefix "\S+"\) \(no dead-letter queue for cluster "cassandra:geo_countr": check the spelling of --cluster/);

    // No router runs: the task waits in the global queue.
    const run = await cli(['run', 'noop', '--cluster', 'c', '--nodes', 'a'], env);
    assert.equal(run.code, 0, run.stderr);
    const id = lines(run.stdout)[0] ?? '';
    const st = await cli(['status', id], env);
    assert.equal(st.code, 1, st.stderr);
    assert.equal(st.stdout, '');
    assert.match(st.stderr, new RegExp(`^taskerman: task ${id} is not recorded in ZooKeeper \\(--zk-root ${root}\\) yet \\(the global queue ${names.global} \\(region us-east-1\\) holds 1 message\\(s\\) no router has finished; the task was emitted at \\S+Z: is a router running`));
  });

  it("the README's main example: plan says which --inventory-root it needs, and works with it (item 11)", async function () {
    const spec = 'examples/tasks/geo-counter-weekly-restart.yaml';
    const bare = await cli(['plan', spec], env);
    assert.equal(bare.code, 1, bare.stderr);
    assert.equal(lines(bare.stderr).length, 1, bare.stderr);
    assert.match(lines(bare.stderr)[0] ?? '', /^taskerman: inventory inventories\/cassandra\.yaml not found under the inventory root \S+ \(inventory paths are relative to --inventory-root: .*--inventory-root examples\/tasks\)\)$/);
    const ok = await cli(['plan', spec, '--inventory-root', 'examples/tasks', '--json'], env);
    assert.equal(ok.code, 0, ok.stderr);
    const plan = validOutput('plan', ok.stdout) as { targets: string[]; limit: number; max_failures: number };
    assert.deepEqual(plan.targets, ['cass-geo-1', 'cass-geo-2', 'cass-geo-3']);
    assert.equal(plan.limit, 1, 'limit: 1 in the example');
  });

  describe('a follower and a ZooKeeper that is stopped and started', function () {
    let server: ZkServer | undefined;
    before(function () {
      if (!zookeeperAvailable()) this.skip();
    });
    beforeEach(async function () {
      server = await startZkServer();
    });
    afterEach(async function () {
      await killAll();
      await server?.stop();
    });

    async function withStore<T>(fn: (s: TaskStore) => Promise<T>): Promise<T> {
      const c = await ZkCoordinator.connect({ connectionString: (server as ZkServer).connectionString, connectTimeoutMs: 20_000 });
      try {
        return await fn(new TaskStore(c, '/taskerman'));
      } finally {
        await c.close();
      }
    }

    async function queuedTask(): Promise<string> {
      const taskId = newTaskId();
      const spec = parseTaskSpec({ name: 'outage', action: 'noop', cluster: 'c:1', nodes: ['a'], owner: 'sre' });
      await withStore(async (s) => {
        await s.init();
        await s.createTask({ task: { taskId, spec, emittedBy: { kind: 'cli', user: 'ana' }, emittedAt: new Date().toISOString() }, targets: ['a'], limit: 1, maxFailures: 1, state: 'routing' });
      });
      return taskId;
    }

    function watchIt(taskId: string, extra: string[] = []): Proc {
      return start('status --watch', ['status', taskId, '--watch', ...extra], cliEnv({ TASKERMAN_ZK: (server as ZkServer).connectionString, AWS_REGION: 'us-east-1' }));
    }

    it('status --watch says ZooKeeper is unreachable, resumes when it is back, and ends with the task (was: exit 1 with a stack trace)', async function () {
      const taskId = await queuedTask();
      const p = watchIt(taskId);
      await waitForOutput(p, 'stderr', /0\/1 succeeded/);
      await server?.halt();
      await waitForOutput(p, 'stderr', /^taskerman: ZooKeeper at \S+ is unreachable; still following task/);
      await server?.start();
      await waitForOutput(p, 'stderr', /^taskerman: ZooKeeper at \S+ is back after \d+s; following task/);
      await withStore(async (s) => {
        await s.updateNode(taskId, 'a', (r) => ({ ...r, state: 'SUCCEEDED', attempts: 1, startedAt: new Date().toISOString(), endedAt: new Date().toISOString() }));
        await s.settleIfDone(taskId);
      });
      const e = await within(p.exited, 'status --watch to end', 30_000);
      assert.equal(e.code, 0, p.stderr);
      assert.match(p.stdout, new RegExp(`^task ${taskId}: SUCCEEDED`));
      assert.ok(!p.stdout.includes('"level"'), `no log line on stdout:\n${p.stdout}`);
      noStack(p.stderr);
    });

    it('gives up after --give-up-after: exit 3 with one line (and the task goes on)', async function () {
      const taskId = await queuedTask();
      const p = watchIt(taskId, ['--give-up-after', '2s']);
      await waitForOutput(p, 'stderr', /0\/1 succeeded/);
      await server?.halt();
      const e = await within(p.exited, 'status --watch to give up', 30_000);
      assert.equal(e.code, 3, p.stderr);
      assert.equal(p.stdout, '');
      const last = lines(p.stderr).at(-1) ?? '';
      assert.match(last, new RegExp(`^taskerman: ZooKeeper at \\S+ unreachable for \\d+s: stopped following task ${taskId} \\(the task goes on; follow it again with \`taskerman status ${taskId} --watch\` once ZooKeeper is back\\)$`));
      noStack(p.stderr);
    });
  });
});

describe('taskerman dev runs the README example as shipped (item 11)', function () {
  this.timeout(120_000);
  afterEach(killAll);

  it('dev <spec> finds its inventory next to the spec, simulates its action without --config, and ends 0 with the table', async function () {
    const r = await cli(['dev', 'examples/tasks/geo-counter-weekly-restart.yaml', '--seconds', '0.2'], cliEnv({}), 60_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, /no --config: cassandra:restart simulated/);
    assert.match(r.stdout, /^task \S+: SUCCEEDED$/m);
    assert.match(r.stdout, /^ {2}name: geo-counter-weekly-restart, owner: gsi$/m);
    for (const n of ['cass-geo-1', 'cass-geo-2', 'cass-geo-3']) assert.match(r.stdout, new RegExp(`^${n}\\s+SUCCEEDED\\s+1\\s`, 'm'));
    assert.ok(!r.stdout.includes('"level"'), `no log line on stdout:\n${r.stdout}`);
  });

  it('dev --inventory-root and --config are taken; a config with an unknown key is refused with the key named', async function () {
    const help = await cli(['dev', '--help'], cliEnv({}));
    assert.match(help.stdout, /--inventory-root <dir>/);
    assert.match(help.stdout, /--config <file\.yaml>/);
    const r = await cli(['dev', 'examples/tasks/geo-counter-weekly-restart.yaml', '--inventory-root', 'examples'], cliEnv({}), 60_000);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /inventory inventories\/cassandra\.yaml not found under the inventory root/);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'taskerman-dev-config-'));
    try {
      const cfg = path.join(dir, 'runner.yaml');
      await writeFile(cfg, 'zk_rot: /x\nexec: { commands: {} }\n');
      const bad = await cli(['dev', 'examples/tasks/geo-counter-weekly-restart.yaml', '--config', cfg], cliEnv({}), 60_000);
      assert.equal(bad.code, 2, bad.stderr);
      assert.equal(bad.stderr, `${cfg}: zk_rot: unknown key: did you mean \`zk_root\`? (known keys: zk, zk_root, region, sqs_endpoint, queue_prefix, log_level, cluster, node, exec, zone, checks, actions, service_manager, plugins)\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
