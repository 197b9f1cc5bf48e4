// The datastore actions' sections of the runner config: the example file parses (its commented Elasticsearch
// and Kafka entries too, once uncommented), durations compile to ms, and a bad value names its field.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { actionsConfigSchema } from '../../actions/actions-config.js';
import { builtinRegistry } from '../../actions/builtin.js';
import { readRunnerConfigFile } from '../../cli/runner-config.js';

const EXAMPLE = 'examples/runner-config.yaml';

describe('datastore actions: runner config', () => {
  it('examples/runner-config.yaml configures cassandra:restart and cassandra:repair, durations in ms', () => {
    const f = readRunnerConfigFile(EXAMPLE);
    assert.equal(f.actions?.['cassandra:restart']?.drain_timeout, 300_000);
    assert.equal(f.actions?.['cassandra:restart']?.restart_after_hung_drain, false);
    assert.equal(f.actions?.['cassandra:repair']?.max_pending_compactions, 20);
    assert.equal(f.actions?.['cassandra:repair']?.repair_timeout, 30 * 60_000);
  });

  it("the example's commented elasticsearch:restart and kafka:restart entries are valid once uncommented", () => {
    const text = readFileSync(EXAMPLE, 'utf8')
      .replace(/^ {2}# ("elasticsearch:restart":|"kafka:restart":)/gm, '  $1')
      .replace(/^ {2}# {3}/gm, '    ');
    const r = actionsConfigSchema.safeParse((parse(text) as { actions: unknown }).actions);
    assert.ok(r.success, r.success ? '' : JSON.stringify(r.error.issues));
    assert.equal(r.data['elasticsearch:restart']?.recover_timeout, 30 * 60_000);
    assert.equal(r.data['kafka:restart']?.broker_id, 3);
  });

  it('a bad value is refused with its field named', () => {
    const bad = actionsConfigSchema.safeParse({ 'cassandra:restart': { drain_timeout: 'soon' }, 'kafka:restart': {}, 'elasticsearch:restart': { url: 'es:9200', extra: 1 } });
    assert.ok(!bad.success);
    const fields = bad.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    assert.ok(fields.some((f) => /^cassandra:restart\.drain_timeout: "soon" is not a duration/.test(f)), fields.join('\n'));
    assert.ok(fields.some((f) => /^kafka:restart\.broker_id: must be this broker's id/.test(f)), fields.join('\n'));
    assert.ok(fields.some((f) => /^elasticsearch:restart\.url: must be a base URL/.test(f)), fields.join('\n'));
    assert.ok(fields.some((f) => /extra/.test(f)), fields.join('\n'));
  });

  it('the built-in registry knows the four actions and validates their arguments (a router needs no config)', () => {
    const reg = builtinRegistry();
    for (const name of ['cassandra:restart', 'cassandra:repair', 'elasticsearch:restart', 'kafka:restart']) assert.ok(reg.has(name), name);
    assert.deepEqual(reg.parseArgs(reg.get('cassandra:repair'), { keyspace: 'geo' }), { keyspace: 'geo', tables: [], full: true, intensity: 0.9 });
    assert.throws(() => reg.parseArgs(reg.get('cassandra:repair'), { intensity: 2 }), /args\.intensity/);
    assert.throws(() => reg.parseArgs(reg.get('kafka:restart'), { force: true }), /args/);
  });
});
