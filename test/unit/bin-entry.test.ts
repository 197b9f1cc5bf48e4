// bin/taskerman.js chooses what to run: the CLI bundle for the on-call commands, the compiled dist/ for the
// daemons (their site plugins import dist/actions and must share the daemon's classes), and never a bundle
// older than dist/ (tsc run alone after an edit). Tested on a copy of the entry in a scratch layout whose
// dist/cli/main.js and dist/cli-bundle/main.js only say which one ran.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../../bin/taskerman.js', import.meta.url));

describe('bin/taskerman.js: which build a command runs', function () {
  this.timeout(30_000);
  let dir = '';
  let compiled = '';
  let bundle = '';

  beforeEach(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'taskerman-bin-'));
    await mkdir(path.join(dir, 'bin'));
    await mkdir(path.join(dir, 'dist', 'cli'), { recursive: true });
    await mkdir(path.join(dir, 'dist', 'cli-bundle'), { recursive: true });
    await copyFile(ENTRY, path.join(dir, 'bin', 'taskerman.js'));
    await writeFile(path.join(dir, 'package.json'), '{ "type": "module" }\n');
    compiled = path.join(dir, 'dist', 'cli', 'main.js');
    bundle = path.join(dir, 'dist', 'cli-bundle', 'main.js');
    await writeFile(compiled, "process.stdout.write('compiled ' + process.argv[2]);\n");
    await writeFile(bundle, "process.stdout.write('bundle ' + process.argv[2]);\n");
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  // The daemons' in-place restart with V8 flags is turned off (empty variable): this is about the choice only.
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(dir, 'bin', 'taskerman.js'), ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, TASKERMAN_DAEMON_V8_FLAGS: '' }, timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const at = async (file: string, secondsAgo: number) => {
    const t = new Date(Date.now() - secondsAgo * 1000);
    await utimes(file, t, t);
  };

  it('runs the bundle for the on-call commands and the compiled files for the daemons', async function () {
    await at(compiled, 60);
    await at(bundle, 30);
    for (const cmd of ['run', 'status', '--version', 'dev', 'help']) assert.equal(run(cmd), `bundle ${cmd}`);
    for (const daemon of ['router', 'runner', 'scheduler']) assert.equal(run(daemon), `compiled ${daemon}`);
  });

  it('runs a bundle as old as the compiled files (a package: npm gives every file the same time)', async function () {
    await at(compiled, 60);
    await at(bundle, 60);
    assert.equal(run('status'), 'bundle status');
  });

  it('does not run a bundle older than the compiled files, nor one that is missing', async function () {
    await at(compiled, 30);
    await at(bundle, 60);
    assert.equal(run('status'), 'compiled status');
    await rm(bundle);
    assert.equal(run('status'), 'compiled status');
  });
});
