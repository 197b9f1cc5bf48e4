// The runner config's action sections: the example config parses (so it stays true to the schemas), an
// unknown key or a bad value is refused naming the field, and the registry a router builds knows every
// action's arguments without any runner config.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinRegistry } from '../../../actions/builtin.js';
import { resolveCommon } from '../../../cli/config.js';
import { readRunnerConfigFile, resolveRunnerConfig } from '../../../cli/runner-config.js';
import { SpecError } from '../../../core/errors.js';

describe('runner config: actions, service_manager, plugins', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'taskerman-cfg-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const write = (text: string) => {
    const f = join(dir, 'runner.yaml');
    writeFileSync(f, text);
    return f;
  };

  it('examples/runner-config.yaml parses with every action configured', () => {
    const cfg = resolveRunnerConfig(resolveCommon({ config: 'examples/runner-config.yaml' }));
    // elasticsearch:restart and kafka:restart are there too, commented out (for nodes of those clusters): test/unit/datastore-actions-config.test.ts.
    assert.deepEqual(Object.keys(cfg.actions).sort(), ['cassandra:repair', 'cassandra:restart', 'host:reboot', 'postgres:backup', 'redis:backup', 'systemd:restart', 'zookeeper:restart']);
    assert.equal(cfg.actions['zookeeper:restart']?.ensemble.length, 3);
    assert.equal(cfg.actions['host:reboot']?.sentinel_file, '/var/run/reboot-required');
    assert.equal(cfg.serviceManager.systemctl, 'systemctl');
  });

  it('refuses an unknown key and a bad value, naming the field', () => {
    const refused = (text: string, field: RegExp) =>
      assert.throws(
        () => readRunnerConfigFile(write(text)),
        (e: unknown) => e instanceof SpecError && e.issues.some((i) => field.test(i.field)),
      );
    refused('actions:\n  "redis:backup": { backup_dir: /b, pasword_file: /x }\n', /^actions\.redis:backup(\.pasword_file)?$/);
    refused('actions:\n  "nginx:reload": {}\n', /^actions(\.nginx:reload)?$/);
    refused('actions:\n  "zookeeper:restart": { member: "10.0.0.9:2181", ensemble: ["10.0.0.1:2181"] }\n', /^actions\.zookeeper:restart\.member$/);
    refused('actions:\n  "systemd:restart": { units: { web: { unit: "nginx service; rm" } } }\n', /^actions\.systemd:restart\.units\.web\.unit$/);
    refused('plugins:\n  - { module: relative.js, sha256: abc }\n', /^plugins\.0\.(module|sha256)$/);
  });

  it('only the daemons validate the local sections; every command refuses an unknown key', () => {
    const f = write('zk: 127.0.0.1:2181\nactions:\n  "redis:backup": { backup_dir: /b, pasword_file: /x }\n');
    // `status --config runner.yaml` needs zk, not the actions' schemas: it reads the file and goes on.
    const common = resolveCommon({ config: f });
    assert.equal(common.zk, '127.0.0.1:2181');
    assert.equal(common.configFile, f);
    // The runner and the router check the section with the action's schema, naming the field and the file.
    assert.throws(
      () => resolveRunnerConfig(common),
      (e: unknown) => e instanceof SpecError && e.issues.some((i) => i.file === f && /^actions\.redis:backup(\.pasword_file)?$/.test(i.field)),
    );
    assert.throws(
      () => resolveCommon({ config: write('zk: 127.0.0.1:2181\nactoins: {}\n') }),
      (e: unknown) => e instanceof SpecError && e.issues.some((i) => i.field === 'actoins' && /did you mean `actions`/.test(i.message)),
    );
    // No config file: the defaults, with nothing to validate.
    const none = resolveRunnerConfig(resolveCommon({}));
    assert.deepEqual([none.exec, none.actions, none.plugins, none.checks], [{}, {}, [], {}]);
    assert.equal(none.serviceManager.systemctl, 'systemctl');
  });

  it('a router registry (no runner config) validates every action\'s arguments', () => {
    const r = builtinRegistry();
    assert.deepEqual(r.parseArgs(r.get('zookeeper:restart', 1), {}), { rejoin_timeout_seconds: 300, settle_seconds: 5 });
    assert.deepEqual(r.parseArgs(r.get('host:reboot', 1), { force: true }), { force: true, up_timeout_seconds: 600 });
    assert.throws(() => r.parseArgs(r.get('redis:backup', 1), { save_timeout_seconds: 0 }), /args.save_timeout_seconds/);
    assert.throws(() => r.parseArgs(r.get('postgres:backup', 1), { databases: ['x'] }), /args: Unrecognized key/);
  });
});
