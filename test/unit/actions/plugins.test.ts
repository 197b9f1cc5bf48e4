// Site plugins: a module pinned by its sha256 loads and its actions run with the same context as a built-in;
// a changed module, a module anyone may write, or one without a plugin export is refused, and the runner
// refuses to start on it with one line naming the file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { builtinRegistry } from '../../../actions/builtin.js';
import { MemoryServiceManager } from '../../../actions/kit/memory-service-manager.js';
import { loadPlugins, PluginError } from '../../../actions/plugin-loader.js';
import { silentLogger } from '../../../core/logger.js';
import { actionContext, runSteps } from '../../support/action-context.js';

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

const PLUGIN = `
export default {
  name: 'acme-test',
  actions({ z, config, kit, defineAction }) {
    const cfg = z.strictObject({ marker: z.string() }).parse(config);
    return [defineAction({
      name: 'acme:mark',
      version: 1,
      description: 'writes the word it is given into the configured file',
      args: z.strictObject({ word: z.string().max(20) }),
      async execute(ctx) {
        await kit.runChecked([process.execPath, '-e', 'require("fs").writeFileSync(process.argv[1], process.argv[2] + " " + process.argv[3])', cfg.marker, ctx.args.word, ctx.taskId], { signal: ctx.signal });
      },
    })];
  },
};
`;

describe('site plugins', () => {
  let dir: string;
  let mod: string;
  let marker: string;
  const sm = new MemoryServiceManager();
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'taskerman-plugin-'));
    mod = join(dir, 'acme.mjs');
    marker = join(dir, 'marker');
    writeFileSync(mod, PLUGIN);
    chmodSync(mod, 0o644);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a pinned module; its action registers beside the built-ins and runs with the action context', async () => {
    const actions = await loadPlugins([{ module: mod, sha256: sha256(mod), config: { marker } }], { logger: silentLogger, serviceManager: sm });
    const registry = builtinRegistry({ extra: actions });
    const action = registry.get('acme:mark', 1);
    assert.ok(registry.has('systemd:restart'));
    assert.throws(() => registry.parseArgs(action, { word: 'x'.repeat(30) }), /args.word/);
    await runSteps(action, actionContext(action, { word: 'hello' }, { taskId: 't-42' }));
    assert.equal(readFileSync(marker, 'utf8'), 'hello t-42');
  });

  it('refuses a module whose bytes changed since it was pinned, naming the file and both hashes', async () => {
    const pinned = sha256(mod);
    appendFileSync(mod, '\n// changed\n');
    await assert.rejects(loadPlugins([{ module: mod, sha256: pinned, config: { marker } }], { logger: silentLogger, serviceManager: sm }), (e: unknown) => {
      assert.ok(e instanceof PluginError);
      assert.match(e.message, new RegExp(`^plugins: ${mod}: sha256 is ${sha256(mod)} but the config pins ${pinned}; refusing to start`));
      assert.equal(e.message.includes('\n'), false);
      return true;
    });
  });

  it('refuses a module anyone may write, one without a plugin export, and a plugin that rejects its config', async () => {
    chmodSync(mod, 0o666);
    await assert.rejects(loadPlugins([{ module: mod, sha256: sha256(mod) }], { logger: silentLogger, serviceManager: sm }), /writable by every user/);
    chmodSync(mod, 0o644);
    const bare = join(dir, 'bare.mjs');
    writeFileSync(bare, 'export const x = 1;\n');
    await assert.rejects(loadPlugins([{ module: bare, sha256: sha256(bare) }], { logger: silentLogger, serviceManager: sm }), /no default export of the shape/);
    await assert.rejects(loadPlugins([{ module: mod, sha256: sha256(mod), config: { nope: 1 } }], { logger: silentLogger, serviceManager: sm }), /plugin "acme-test" refused its config: config.marker: .*; config: Unrecognized key/);
  });

  it('the example plugin (TypeScript) loads pinned and runs', async () => {
    const example = resolve('examples/plugins/disk-space.ts');
    const actions = await loadPlugins([{ module: example, sha256: sha256(example), config: { path: dir, cleanup: [process.execPath, '--version'] } }], { logger: silentLogger, serviceManager: sm });
    assert.deepEqual(actions.map((a) => a.name), ['acme:disk-cleanup']);
    const action = actions[0]!;
    await runSteps(action, actionContext(action, { max_used_percent: 99 }));
    await assert.rejects(action.postCheck!(actionContext(action, { max_used_percent: 1 })), /% used, above 1%/);
  });

  it('the runner refuses to start on a changed plugin with one line on stderr, before connecting anywhere', function () {
    this.timeout(60_000);
    const cfg = join(dir, 'runner.yaml');
    writeFileSync(cfg, `cluster: web:front\nzk: 127.0.0.1:1\nplugins:\n  - module: ${mod}\n    sha256: "${'0'.repeat(64)}"\n    config: { marker: ${marker} }\n`);
    const r = spawnSync(process.execPath, ['bin/taskerman.js', 'runner', '--config', cfg], { encoding: 'utf8', env: { ...process.env, TASKERMAN_FROM_SOURCE: '1', TASKERMAN_LOG_LEVEL: 'silent' }, timeout: 50_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0] ?? '', /plugins: .*acme\.mjs: sha256 is [0-9a-f]{64} but the config pins 0{64}; refusing to start/);
  });
});
