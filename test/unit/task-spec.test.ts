import assert from 'node:assert/strict';
import { SpecError } from '../../core/errors.js';
import { parseTaskSpec, parseTaskSpecText, resolveLimit, specToWire } from '../../core/task/task-spec.js';

const base = { name: 'geo-restart', action: 'sleep', cluster: 'cassandra:geo_counter', nodes: ['a', 'b'] };

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected SpecError, got ${String(err)}`);
    return err.issues.map((i) => `${i.file ? `${i.file}: ` : ''}${i.field}: ${i.message}`);
  }
  assert.fail('expected the spec to be refused');
}

describe('task spec', () => {
  it('applies defaults and compiles durations to ms', () => {
    const s = parseTaskSpec({ ...base, retry: { count: 3, backoff: '60s' }, timeout: '30m', limit: '10%' });
    assert.equal(s.discovery, 'explicit');
    assert.deepEqual(s.limit, { kind: 'percent', value: 10 });
    assert.deepEqual(s.maxFailures, { kind: 'count', value: 1 });
    assert.deepEqual(s.retry, { count: 3, backoffMs: 60_000 });
    assert.equal(s.timeoutMs, 1_800_000);
    assert.equal(s.version, 1);
  });

  it('round-trips through the wire format', () => {
    const s = parseTaskSpec({ ...base, limit: 2, max_failures: '5%', args: { seconds: 3 }, owner: 'gsi', timezone: 'Europe/Paris' });
    assert.deepEqual(parseTaskSpec(specToWire(s)), s);
  });

  it('names the file and the field, with the fix, for limit: 0', () => {
    const msgs = issuesOf(() => parseTaskSpecText('name: x\naction: sleep\ncluster: c\nnodes: [a]\nlimit: 0\n', 'tasks/x.yaml'));
    assert.deepEqual(msgs, ['tasks/x.yaml: limit: must be a positive integer or a percentage like "10%"']);
  });

  it('refuses bad percentages and non-integers', () => {
    for (const limit of ['0%', '101%', '1.5', 2.5, -1, 'ten']) {
      assert.equal(issuesOf(() => parseTaskSpec({ ...base, limit }))[0], 'limit: must be a positive integer or a percentage like "10%"', String(limit));
    }
  });

  it('reports unknown fields (a typo must not silently mean the default)', () => {
    const msgs = issuesOf(() => parseTaskSpec({ ...base, limt: 2 }));
    assert.match(msgs[0] ?? '', /^\(spec\): unknown field "limt"/);
  });

  it('lists every problem at once', () => {
    const msgs = issuesOf(() => parseTaskSpec({ name: 'bad name!', action: 'Sleep', cluster: '', timeout: 'soon' }));
    const fields = msgs.map((m) => m.split(':')[0]);
    for (const f of ['name', 'action', 'cluster', 'timeout']) assert.ok(fields.includes(f), `${f} in ${msgs.join(' | ')}`);
  });

  it('needs discovery or explicit nodes, and not both nodes and destnode', () => {
    assert.match(issuesOf(() => parseTaskSpec({ name: 'x', action: 'sleep', cluster: 'c' }))[0] ?? '', /^discovery: is required/);
    assert.match(issuesOf(() => parseTaskSpec({ ...base, destnode: 'c' }))[0] ?? '', /^destnode: cannot be used together with nodes/);
    assert.match(issuesOf(() => parseTaskSpec({ ...base, discovery: 'members' }))[0] ?? '', /^discovery: is "members" but nodes\/destnode are given/);
    assert.match(issuesOf(() => parseTaskSpec({ name: 'x', action: 'sleep', cluster: 'c', discovery: 'static' }))[0] ?? '', /^inventory: is required/);
    assert.deepEqual(parseTaskSpec({ name: 'x', action: 'sleep', cluster: 'c', destnode: 'n1' }).nodes, ['n1']);
  });

  it('refuses duplicate nodes and names with slashes', () => {
    assert.match(issuesOf(() => parseTaskSpec({ ...base, nodes: ['a', 'a'] }))[0] ?? '', /nodes: lists "a" twice/);
    assert.match(issuesOf(() => parseTaskSpec({ ...base, nodes: ['../etc'] }))[0] ?? '', /^nodes\[0\]: must be a node name/);
  });

  it('names invalid YAML with its line', () => {
    assert.match(issuesOf(() => parseTaskSpecText('name: x\n  bad: [\n', 't.yaml'))[0] ?? '', /^t\.yaml: \(file\): is not valid YAML \(line \d+\)/);
  });

  it('resolves percentages against targets: rounded down, at least 1, at most n', () => {
    assert.equal(resolveLimit({ kind: 'percent', value: 10 }, 25), 2);
    assert.equal(resolveLimit({ kind: 'percent', value: 10 }, 5), 1);
    assert.equal(resolveLimit({ kind: 'percent', value: 100 }, 7), 7);
    assert.equal(resolveLimit({ kind: 'count', value: 5 }, 3), 3);
    assert.equal(resolveLimit({ kind: 'count', value: 2 }, 12), 2);
  });
});
