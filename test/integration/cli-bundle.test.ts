// The CLI bundle (build/bundle-cli.ts) that bin/taskerman.js runs for the on-call commands: built afresh into
// a scratch folder of the checkout (so that what it leaves outside, pino and the lazily required yaml, resolve
// from node_modules as in an install), then run as separate processes next to the sources: it must say
// exactly what the sources say, follow a task through a router and a runner to its end, and keep every lazy
// part lazy (--version loads nothing but commander; no command loads EC2 before it is asked for).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Metafile } from 'esbuild';
import { bundleCli, REPO } from '../../build/bundle-cli.js';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { freshQueuePrefix, freshZkRoot, requireZk, testSqsEndpoint } from '../support/env.js';
import { backendEnv, cli, cliEnv, killAll, start, waitForLog, type Result } from '../support/cli-process.js';

/** Every input file that loading `output` evaluates before any dynamic import() runs. */
function staticInputs(meta: Metafile, output: string): Set<string> {
  const seen = new Set<string>();
  const inputs = new Set<string>();
  const visit = (out: string) => {
    if (seen.has(out)) return;
    seen.add(out);
    const o = meta.outputs[out];
    assert.ok(o, `${out} is in the metafile`);
    for (const i of Object.keys(o.inputs)) inputs.add(i);
    for (const imp of o.imports) if (imp.kind === 'import-statement' && !imp.external) visit(imp.path);
  };
  visit(output);
  return inputs;
}

const fromPackage = (inputs: Set<string>, pkg: string) => [...inputs].filter((i) => i.includes(`node_modules/${pkg}/`));

describe('the CLI bundle (build/bundle-cli.ts)', function () {
  this.timeout(120_000);
  let outdir = '';
  let entry: string[] = [];
  let meta: Metafile;

  before(async function () {
    outdir = path.join(REPO, '.tmp', `bundle-test-${randomBytes(4).toString('hex')}`);
    const b = await bundleCli(outdir);
    entry = [b.main];
    meta = b.metafile;
  });
  after(async function () {
    await killAll();
    if (outdir) await rm(outdir, { recursive: true, force: true });
  });

  it('keeps the lazy parts lazy: --version evaluates commander and no zod, SQS, ZooKeeper or EC2; run loads ZooKeeper, SQS and EC2 only when asked', function () {
    const mainOut = Object.keys(meta.outputs).find((o) => meta.outputs[o]?.entryPoint === 'cli/main.ts');
    assert.ok(mainOut, 'the metafile names the entry cli/main.ts');
    const atStart = staticInputs(meta, mainOut);
    assert.ok(fromPackage(atStart, 'commander').length > 0, 'commander is loaded at start');
    for (const pkg of ['zod', '@aws-sdk/client-sqs', '@aws-sdk/credential-provider-node', '@aws-sdk/client-ec2', 'node-zookeeper-client', 'prom-client']) {
      assert.deepEqual(fromPackage(atStart, pkg), [], `${pkg} is not loaded by --version`);
    }
    const runOut = Object.keys(meta.outputs).find((o) => meta.outputs[o]?.entryPoint === 'cli/commands/run.ts');
    assert.ok(runOut, 'the run command is a chunk of its own');
    const run = staticInputs(meta, runOut);
    assert.ok(fromPackage(run, 'zod').length > 0, 'run validates with zod');
    for (const pkg of ['@aws-sdk/client-sqs', '@aws-sdk/credential-provider-node', '@aws-sdk/client-ec2', 'node-zookeeper-client']) {
      assert.deepEqual(fromPackage(run, pkg), [], `${pkg} is loaded by run only when it connects`);
    }
  });

  it('says what the sources say: version, help, validate (yaml), schema, bad input and an unknown action', async function () {
    const env = cliEnv({});
    const cases: string[][] = [
      ['--version'],
      ['run', '--help'],
      ['validate', 'examples/tasks'],
      ['schema'],
      ['run', 'sleep', '--cluster', 'c', '--nodes', 'a', '--limit', '0'],
      ['run', 'nope', '--cluster', 'c', '--nodes', 'a'],
    ];
    for (const args of cases) {
      const [bundled, sources] = await Promise.all([cli(args, env, undefined, entry), cli(args, env)]);
      const show = (r: Result) => ({ code: r.code, stdout: r.stdout, stderr: r.stderr });
      assert.deepEqual(show(bundled), show(sources), `taskerman ${args.join(' ')}: the bundle differs from the sources`);
    }
  });

  it('pretty-prints the logs of dev on a terminal: pino-pretty in its worker thread, found from the bundle', async function () {
    // A terminal for the command: util-linux's script(1) (Debian's bsdutils, always installed).
    if (!existsSync('/usr/bin/script')) this.skip();
    const command = [process.execPath, ...entry, 'dev', '--demo', '--nodes', '2', '--seconds', '0.1', '--log-level', 'info'].join(' ');
    const r = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn('/usr/bin/script', ['-qec', command, '/dev/null'], { cwd: REPO, env: cliEnv({}), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      child.once('error', reject);
      child.once('exit', (code) => {
        clearTimeout(killer);
        resolve({ code, out });
      });
    });
    // eslint-disable-next-line no-control-regex
    const plain = r.out.replace(/\x1b\[[0-9;]*m/g, '');
    assert.equal(r.code, 0, plain.slice(-2000));
    assert.match(plain, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: router started$/m, 'a pretty log line of the router');
  });

  describe('against a router and a runner', function () {
    let zk = '';
    let root = '';
    let env: NodeJS.ProcessEnv = {};

    before(function () {
      zk = requireZk(this);
      root = freshZkRoot();
      env = backendEnv(zk, root, testSqsEndpoint(), freshQueuePrefix());
    });
    after(async function () {
      await killAll();
      if (!root) return;
      const c = await ZkCoordinator.connect({ connectionString: zk });
      try {
        await c.removeRecursive(root);
      } finally {
        await c.close();
      }
    });

    it('run --wait --json follows the task to its end, prints only the status, and never loads undici', async function () {
      const router = start('router', ['router'], env);
      const runner = start('runner b1', ['runner', '--cluster', 'bundle:test', '--node', 'b1'], env);
      await Promise.all([waitForLog(router, 'router started'), waitForLog(runner, 'runner started')]);
      // Says at exit whether Node's undici was loaded: the SDK's HTTP handler must get node:http through require
      // (build/bundle-cli.ts, httpAsCommonJs), not as an ES module whose WebSocket getter loads undici.
      const probe = "data:text/javascript,process.on('exit',()=>process.stderr.write('undici loaded: '+process.moduleLoadList.some((m)=>m.includes('undici'))+'\\n'))";
      const r = await cli(['run', 'noop', '--cluster', 'bundle:test', '--destnode', 'b1', '--wait', '--json'], env, 60_000, ['--import', probe, ...entry]);
      assert.equal(r.code, 0, `run --wait exited ${r.code}\n${r.stdout}\n${r.stderr}`);
      assert.equal(r.stderr, 'undici loaded: false\n', 'nothing on stderr but the probe, and no undici');
      const status = JSON.parse(r.stdout) as { state: string; nodes: Array<{ node: string; state: string }> };
      assert.equal(status.state, 'succeeded');
      assert.deepEqual(status.nodes.map((n) => [n.node, n.state]), [['b1', 'SUCCEEDED']]);
      // The recorded status is the one the sources read back.
      const st = await cli(['status', (JSON.parse(r.stdout) as { task_id: string }).task_id, '--json'], env);
      assert.equal(st.code, 0, st.stderr);
      assert.equal((JSON.parse(st.stdout) as { state: string }).state, 'succeeded');
    });
  });
});
