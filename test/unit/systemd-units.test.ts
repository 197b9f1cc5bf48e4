// The systemd units under deploy/systemd/ start commands that exist with options that exist, give the
// runner's drain the time it needs before systemd kills it, and leave the runner able to do its job
// (restart services, upgrade packages, reboot): a unit that is wrong fails here, not on a node at 3 a.m.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { COMMANDS } from '../../cli/program.js';

const DIR = new URL('../../deploy/systemd/', import.meta.url);

type Unit = Record<string, Record<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1] as string;
      unit[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0 && section, `not a unit line: ${line}`);
    const key = line.slice(0, eq);
    ((unit[section] as Record<string, string[]>)[key] ??= []).push(line.slice(eq + 1));
  }
  return unit;
}

const units = Object.fromEntries(
  readdirSync(DIR)
    .filter((f) => f.endsWith('.service'))
    .map((f) => [f, parseUnit(readFileSync(new URL(f, DIR), 'utf8'))]),
);
const one = (u: Unit, section: string, key: string): string | undefined => u[section]?.[key]?.at(-1);
const seconds = (v: string | undefined): number => {
  const m = /^(\d+)(s|min)?$/.exec(v ?? '');
  assert.ok(m, `a duration in seconds or minutes: ${v}`);
  return Number(m[1]) * (m[2] === 'min' ? 60 : 1);
};

describe('deploy/systemd units', () => {
  it('exist for runner, router, scheduler and ui', () => {
    assert.deepEqual(Object.keys(units).sort(), ['taskerman-router.service', 'taskerman-runner.service', 'taskerman-scheduler.service', 'taskerman-ui.service']);
  });

  for (const [name, unit] of Object.entries(units)) {
    it(`${name}: starts \`taskerman ${name.replace(/^taskerman-|\.service$/g, '')}\` with options the command has, a config file, a restart policy`, async () => {
      const exec = one(unit, 'Service', 'ExecStart') ?? '';
      const [bin, sub, ...args] = exec.split(/\s+/);
      assert.match(bin ?? '', /\/taskerman$/);
      assert.equal(sub, name.replace(/^taskerman-|\.service$/g, ''));
      const entry = COMMANDS.find((c) => c.name === sub);
      assert.ok(entry, `taskerman has a ${sub} command`);
      const cmd = await entry.load();
      const known = new Set(cmd.options.map((o) => o.long));
      for (const a of args.filter((x) => x.startsWith('--'))) assert.ok(known.has(a), `${sub} has ${a}`);
      assert.ok(args.includes('--config'), 'reads its config file');
      assert.equal(one(unit, 'Service', 'Restart'), 'always');
      assert.equal(one(unit, 'Install', 'WantedBy'), 'multi-user.target');
      assert.equal(one(unit, 'Service', 'MemoryDenyWriteExecute'), undefined, "Node's JIT needs W+X memory");
    });
  }

  it('the runner: stop timeout above its drain timeout, SIGTERM to the runner alone, nothing that forbids restarting services or rebooting', () => {
    const u = units['taskerman-runner.service'] as Unit;
    const args = (one(u, 'Service', 'ExecStart') ?? '').split(/\s+/);
    const drainFlag = args.indexOf('--drain-timeout');
    const drain = drainFlag > 0 ? Number(args[drainFlag + 1]) : 600; // the command's default
    assert.ok(seconds(one(u, 'Service', 'TimeoutStopSec')) > drain, 'systemd waits longer than the drain');
    assert.equal(one(u, 'Service', 'KillSignal'), 'SIGTERM');
    assert.equal(one(u, 'Service', 'KillMode'), 'mixed', 'the action in flight is not killed with the runner');
    for (const k of ['ProtectSystem', 'NoNewPrivileges', 'DynamicUser', 'User', 'PrivateDevices', 'ProtectKernelModules', 'CapabilityBoundingSet', 'SystemCallFilter', 'RestrictNamespaces']) {
      assert.equal(one(u, 'Service', k), undefined, `${k} would stop the runner from doing maintenance`);
    }
  });

  it('the other daemons run sandboxed as a dynamic user', () => {
    for (const n of ['taskerman-router.service', 'taskerman-scheduler.service', 'taskerman-ui.service']) {
      const u = units[n] as Unit;
      assert.equal(one(u, 'Service', 'DynamicUser'), 'yes', n);
      assert.equal(one(u, 'Service', 'ProtectSystem'), 'strict', n);
      assert.equal(one(u, 'Service', 'NoNewPrivileges'), 'yes', n);
    }
  });
});
