// The lazy command table of cli/program.ts: the top level loads no command module unless that command runs,
// and what it shows for a command not loaded (name, summary) is what the command itself says.
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { buildProgram, COMMANDS, invokedCommand, type LazyCommand } from '../../cli/program.js';

function fakeTable(loaded: string[]): LazyCommand[] {
  return ['alpha', 'beta'].map((name) => ({
    name,
    summary: `the ${name} command`,
    load: async () => {
      loaded.push(name);
      return new Command(name).description(`the ${name} command`).option('--deep', 'only on the real command').action(() => undefined);
    },
  }));
}

describe('cli program: commands load on demand', () => {
  it('every table entry loads a command of that name whose description is the summary', async function () {
    this.timeout(60_000);
    const names = new Set<string>();
    for (const entry of COMMANDS) {
      const c = await entry.load();
      assert.equal(c.name(), entry.name);
      assert.equal(c.description(), entry.summary, `${entry.name}: keep the summary in cli/program.ts equal to its description`);
      assert.ok(!names.has(entry.name), `${entry.name} registered twice`);
      names.add(entry.name);
    }
  });

  it('--version, --help and an unknown command load no command module', async () => {
    for (const argv of [['--version'], ['--help'], [], ['nope']]) {
      const loaded: string[] = [];
      const program = await buildProgram(['node', 'taskerman', ...argv], fakeTable(loaded));
      assert.deepEqual(loaded, [], argv.join(' '));
      assert.deepEqual(program.commands.map((c) => [c.name(), c.description()]), [['alpha', 'the alpha command'], ['beta', 'the beta command']]);
    }
  });

  it('the invoked command, and `help <command>`, load that command only, with its own options', async () => {
    for (const argv of [['beta', '--deep'], ['help', 'beta']]) {
      const loaded: string[] = [];
      const program = await buildProgram(['node', 'taskerman', ...argv], fakeTable(loaded));
      assert.deepEqual(loaded, ['beta']);
      const beta = program.commands.find((c) => c.name() === 'beta');
      assert.ok(beta?.options.some((o) => o.long === '--deep'));
      assert.ok(!program.commands.find((c) => c.name() === 'alpha')?.options.some((o) => o.long === '--deep'));
    }
  });

  it('finds the command after `help`, and none for options or unknown names', () => {
    assert.equal(invokedCommand(['node', 'taskerman', 'run', 'noop'])?.name, 'run');
    assert.equal(invokedCommand(['node', 'taskerman', 'help', 'status'])?.name, 'status');
    assert.equal(invokedCommand(['node', 'taskerman', '--version']), undefined);
    assert.equal(invokedCommand(['node', 'taskerman', 'runn']), undefined);
  });
});
