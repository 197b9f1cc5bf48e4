// The cluster budget's commands as an operator uses them — policy, hold, release, budget, status — as separate
// processes against the real ZooKeeper server (and, where a task runs, the SQS-protocol server, a router and
// runners), each test under a fresh ZooKeeper root and queue prefix. Conditions that no output announces are
// polled in ZooKeeper with a bounded wait; nothing sleeps.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { zkPaths } from '../../core/coordination/zk-paths.js';
import { TaskStore } from '../../core/task/task-store.js';
import { backendEnv, cli as runCli, cliEnv, killAll, lines as outputLines, start as startCli, waitForOutput, type Result as CliResult } from '../support/cli-process.js';
import { freshQueuePrefix, freshZkRoot, requireZk, testSqsEndpoint } from '../support/env.js';
import { waitUntil } from '../support/wait-until.js';

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const TASK_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;
const show = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

describe('budget commands (integration, separate processes)', function () {
  this.timeout(180_000);
  let zk = '';
  let root = '';
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  let coordinator: ZkCoordinator | undefined;
  let budget: BudgetStore;

  before(function () {
    zk = requireZk(this);
  });

  beforeEach(async function () {
    root = freshZkRoot();
    dir = await mkdtemp(path.join(os.tmpdir(), 'taskerman-budget-cli-'));
    env = backendEnv(zk, root, testSqsEndpoint(), freshQueuePrefix());
    coordinator = await ZkCoordinator.connect({ connectionString: zk });
    budget = new BudgetStore(coordinator, zkPaths(root));
  });

  afterEach(async function () {
    await killAll();
    await rm(dir, { recursive: true, force: true });
    if (coordinator) {
      await coordinator.removeRecursive(root).catch(() => undefined);
      await coordinator.close();
    }
  });

  it('policy apply validates every file first, says what changed, leaves unchanged ones alone; show and remove', async function () {
    await writeFile(path.join(dir, 'geo.yaml'), 'cluster: cassandra:geo\nbudget: 2\nzone_budget: 1\nhealth: { check: ring-healthy, timeout: 30s }\n');
    await writeFile(path.join(dir, 'kafka.yaml'), 'cluster: kafka:events\nbudget: "10%"\nreturn_grace: 30m\n');
    const first = await runCli(['policy', 'apply', dir], env);
    assert.equal(first.code, 0, show(first));
    assert.match(first.stdout, new RegExp(`^cassandra:geo: created \\(${dir}/geo.yaml, version \\d+\\)$`, 'm'));
    assert.match(first.stdout, /^ {2}budget: 2$/m);
    assert.match(first.stdout, /^kafka:events: created /m);

    // One file changed, one not; a bad file next to them stops everything before anything is written.
    await writeFile(path.join(dir, 'geo.yaml'), 'cluster: cassandra:geo\nbudget: 3\nzone_budget: 1\nhealth: { check: ring-healthy, timeout: 30s }\n');
    await writeFile(path.join(dir, 'zz-bad.yaml'), 'cluster: es:logs\nbudget: 0\n');
    const refused = await runCli(['policy', 'apply', dir], env);
    assert.equal(refused.code, 2, show(refused));
    assert.equal(refused.stdout, '');
    assert.match(refused.stderr, new RegExp(`${dir}/zz-bad.yaml: budget: 0 is not a whole number of nodes of 1 or more`));
    assert.equal((await budget.getPolicy('cassandra:geo'))?.budget?.value, 2, 'nothing was written');
    await rm(path.join(dir, 'zz-bad.yaml'));

    const before = (await budget.getPolicy('kafka:events'))?.version;
    const second = await runCli(['policy', 'apply', dir, '--json'], env);
    assert.equal(second.code, 0, show(second));
    const applied = (JSON.parse(second.stdout) as { applied: Array<{ cluster: string; change: string; changes: Array<{ field: string; from: string; to: string }> }> }).applied;
    assert.deepEqual(applied.map((a) => [a.cluster, a.change]), [['cassandra:geo', 'changed'], ['kafka:events', 'unchanged']]);
    assert.deepEqual(applied[0]?.changes, [{ field: 'budget', from: '2', to: '3' }]);
    assert.equal((await budget.getPolicy('kafka:events'))?.version, before, 'an unchanged policy is not rewritten');

    const shown = await runCli(['policy', 'show', 'cassandra:geo', '--json'], env);
    assert.equal(shown.code, 0, show(shown));
    const p = JSON.parse(shown.stdout) as Record<string, unknown>;
    assert.equal(p.budget, 3);
    assert.equal(p.zone_budget, 1);
    assert.deepEqual(p.health, { check: 'ring-healthy', timeout_ms: 30_000, interval_ms: 10_000 });
    assert.equal(p.return_grace_ms, 900_000);
    assert.match(String(p.applied_at), ISO_MS);
    assert.match(String(p.applied_by), /.+@.+/);
    const all = await runCli(['policy', 'show'], env);
    assert.equal(all.code, 0, show(all));
    assert.match(all.stdout, /^cassandra:geo {2}\(version/m);
    assert.match(all.stdout, /^kafka:events {2}\(version/m);

    const removed = await runCli(['policy', 'remove', 'kafka:events'], env);
    assert.equal(removed.code, 0, show(removed));
    const gone = await runCli(['policy', 'show', 'kafka:events'], env);
    assert.equal(gone.code, 1, show(gone));
    assert.deepEqual(outputLines(gone.stderr).length, 1, gone.stderr);
    assert.match(gone.stderr, /policy of cluster kafka:events not found/);
  });

  it('validate passes the example policies and tasks together; a policy typo is named with its file and field', async function () {
    const ok = await runCli(['validate', 'examples/policies', 'examples/tasks'], cliEnv({}));
    assert.equal(ok.code, 0, show(ok));
    assert.match(ok.stdout, /^examples\/policies\/cassandra-geo_counter\.yaml: ok \(policy of cassandra:geo_counter\)$/m);
    await writeFile(path.join(dir, 'p.yaml'), 'cluster: c\nbudget: 1\nzone_budgett: 1\n');
    const bad = await runCli(['validate', dir], cliEnv({}));
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, new RegExp(`^${dir}/p.yaml: \\(policy\\): unknown field "zone_budgett"`, 'm'));
  });

  it('hold with no runner live is granted; --now is refused with the reason; release records who and why', async function () {
    const held = await runCli(['hold', 'c:1', '--node', 'n1', '--reason', 'disk swap', '--ttl', '4h', '--json'], env);
    assert.equal(held.code, 0, show(held));
    const g = JSON.parse(held.stdout) as Record<string, unknown>;
    assert.equal(g.kind, 'hold');
    assert.equal(g.node, 'n1');
    assert.equal(g.reason, 'disk swap');
    assert.match(String(g.expires_at), ISO_MS);
    assert.equal(Date.parse(String(g.expires_at)) - Date.parse(String(g.granted_at)), 4 * 3_600_000);
    assert.ok(await budget.getGrant('c:1', 'n1'), 'the hold outlives the command');

    await writeFile(path.join(dir, 'c1.yaml'), 'cluster: c:1\nbudget: 1\n');
    assert.equal((await runCli(['policy', 'apply', dir], env)).code, 0);
    const refused = await runCli(['hold', 'c:1', '--node', 'n2', '--reason', 'rack move', '--now'], env);
    assert.equal(refused.code, 1, show(refused));
    assert.equal(refused.stdout, '');
    const last = outputLines(refused.stderr).pop() ?? '';
    assert.match(last, /^taskerman: cannot hold n2 of c:1 now: cluster budget: 1 of 1 disrupted \(n1\)/);
    assert.equal(await budget.getGrant('c:1', 'n2'), undefined);
    assert.deepEqual(await budget.requests('c:1'), [], 'the refused request was withdrawn');

    const b = await runCli(['budget', 'c:1', '--json'], env);
    assert.equal(b.code, 0, show(b));
    const j = JSON.parse(b.stdout) as { budget: number; headroom: number; grants: Array<Record<string, unknown>> };
    assert.equal(j.budget, 1);
    assert.equal(j.headroom, 0);
    assert.deepEqual(j.grants.map((x) => [x.node, x.kind, x.reason, x.runner_live]), [['n1', 'hold', 'disk swap', false]]);

    const rel = await runCli(['release', 'c:1', '--node', 'n1', '--reason', 'disk swapped'], env);
    assert.equal(rel.code, 0, show(rel));
    assert.match(rel.stdout, /^released n1 of c:1: hold by .+@.+ \(disk swap\), token \d+, granted /);
    const again = await runCli(['release', 'c:1', '--node', 'n1'], env);
    assert.equal(again.code, 1, show(again));
    assert.match(again.stderr, /grant of n1 in c:1 not found/);
    const ev = await budget.events('c:1');
    assert.deepEqual(ev.map((e) => [e.kind, e.node, e.reason]), [['released', 'n1', 'disk swapped']]);
    assert.match(ev[0]?.by ?? '', /.+@.+/);

    const list = await runCli(['budget'], env);
    assert.equal(list.code, 0, show(list));
    assert.match(list.stdout, /^c:1 +0\/1 +0 +0 /m);
  });

  it('a task waits behind a hold: status and budget say why; the release lets it finish (runners with zones and checks from their config)', async function () {
    const config = path.join(dir, 'runner.yaml');
    await writeFile(config, 'checks:\n  always-ok: { argv: [/bin/true] }\n');
    await writeFile(path.join(dir, 'policy.yaml'), 'cluster: c:2\nbudget: 1\nhealth: { check: always-ok, timeout: 10s }\n');
    assert.equal((await runCli(['policy', 'apply', path.join(dir, 'policy.yaml')], env)).code, 0);
    const router = startCli('router', ['router'], env);
    const runners = [['n1', 'az-a'], ['n2', 'az-b']].map(([n, z]) => startCli(`runner ${n}`, ['runner', '--cluster', 'c:2', '--node', n as string, '--zone', z as string, '--config', config, '--visibility', '5'], env));
    await Promise.all([router, ...runners].map((p) => waitForOutput(p, 'stdout', /"msg":"(router|runner) started"/)));

    const held = await runCli(['hold', 'c:2', '--node', 'n1', '--reason', 'disk swap'], env);
    assert.equal(held.code, 0, show(held));
    assert.match(held.stdout, /^held n1 of c:2 \(token \d+\) since \S+ until released: disk swap$/m);

    const run = await runCli(['run', 'sleep', '--cluster', 'c:2', '--nodes', 'n2', '--limit', '1', '--arg', 'seconds=0.1'], env);
    assert.equal(run.code, 0, show(run));
    const taskId = outputLines(run.stdout)[0] ?? '';
    assert.match(taskId, TASK_ID);
    await waitUntil('the keeper to say why n2 waits', async () => (await budget.getGate('c:2')).value.waiting.find((w) => w.node === 'n2' && w.task_id === taskId), 60_000, 200);

    const st = await runCli(['status', taskId, '--json'], env);
    assert.equal(st.code, 0, show(st));
    const n2 = (JSON.parse(st.stdout) as { nodes: Array<{ node: string; state: string; reason: string | null }> }).nodes.find((n) => n.node === 'n2');
    assert.deepEqual([n2?.state, n2?.reason], ['WAITING', 'waiting: cluster budget: 1 of 1 disrupted (n1)']);
    const b = await runCli(['budget', 'c:2', '--json'], env);
    assert.equal(b.code, 0, show(b));
    const j = JSON.parse(b.stdout) as { zones: Array<{ zone: string; nodes: number; disrupted: number }>; waiting: Array<Record<string, unknown>>; health: { ok: boolean; check: string } | null; keeper: { by: string } | null };
    assert.deepEqual(j.zones.map((z) => [z.zone, z.nodes, z.disrupted]), [['az-a', 1, 1], ['az-b', 1, 0]]);
    assert.deepEqual(j.waiting.map((w) => [w.position, w.node, w.task_id, w.blocked_by]), [[1, 'n2', taskId, 'budget']]);
    // The hold was granted by a runner's keeper, which ran the health check from its own config.
    assert.deepEqual([j.health?.check, j.health?.ok], ['always-ok', true]);
    assert.ok(j.keeper && ['n1', 'n2'].includes(j.keeper.by), JSON.stringify(j.keeper));
    const text = await runCli(['budget', 'c:2'], env);
    assert.match(text.stdout, /^1 +n2 +task \S+ +normal .* budget +cluster budget: 1 of 1 disrupted \(n1\)$/m);

    assert.equal((await runCli(['release', 'c:2', '--node', 'n1', '--reason', 'done'], env)).code, 0);
    const store = new TaskStore(budget.coordinator, root);
    await waitUntil('the task to succeed after the release', async () => (await store.getTask(taskId))?.value.state === 'succeeded', 60_000, 200);
  });

  it('a runner refuses a config whose checks: has an unknown key, naming it', async function () {
    const config = path.join(dir, 'runner.yaml');
    await writeFile(config, 'checks:\n  ring-healthy: { argv: ["true"], timout: 5 }\n');
    const r = await runCli(['runner', '--cluster', 'c:3', '--node', 'n1', '--config', config], env);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, new RegExp(`${config}: checks\\.ring-healthy\\.timout: unknown key`));
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one problem, one line');
  });

  it('budget --watch prints again when the budget changes and exits 0 on Ctrl-C', async function () {
    await budget.initCluster('c:4');
    const watch = startCli('budget --watch', ['budget', 'c:4', '--watch', '--interval', '200ms'], env);
    await waitForOutput(watch, 'stdout', /GRANTS: none/);
    assert.equal((await runCli(['hold', 'c:4', '--node', 'n7', '--reason', 'bios update'], env)).code, 0);
    await waitForOutput(watch, 'stdout', /^n7 .*hold .*"bios update"$/);
    watch.child.kill('SIGINT');
    const exit = await watch.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, watch.stderr);
  });
});

describe('dev --demo (one process, in-memory backends)', function () {
  this.timeout(120_000);
  afterEach(async function () {
    await killAll();
  });

  it('two tasks share the budget of 2: both succeed and never more than 2 nodes are disrupted at once', async function () {
    const r = await runCli(['dev', '--demo', '--seconds', '0.2'], cliEnv({}), 90_000);
    assert.equal(r.code, 0, show(r));
    const tables = r.stdout.split(/\n(?=task )/);
    assert.equal(tables.length, 2, r.stdout);
    for (const t of tables) {
      assert.match(t, /^task \S+: SUCCEEDED/);
      assert.match(t, /nodes: 12 \(12 SUCCEEDED\)/);
    }
    const progress = outputLines(r.stderr).filter((l) => / disrupted \d+\/2: /.test(l));
    assert.ok(progress.length > 2, r.stderr);
    for (const l of progress) assert.ok(Number(/ disrupted (\d+)\/2: /.exec(l)?.[1]) <= 2, l);
    const most = /at most (\d+) node\(s\) of demo:cassandra were inside an action at once \(from the node records\), (\d+) held a grant at once/.exec(r.stderr);
    assert.ok(most, r.stderr);
    assert.ok(Number(most[1]) >= 1 && Number(most[1]) <= 2, most[0]);
    assert.ok(Number(most[2]) <= 2, most[0]);
  });
});
