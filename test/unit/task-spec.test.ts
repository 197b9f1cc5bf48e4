import assert from 'node:assert/strict';
import { SpecError } from '../../core/errors.js';
import { MAX_TIMEOUT_MS, parseTaskSpec, parseTaskSpecText, resolveLimit, specToWire } from '../../core/task/task-spec.js';

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
    for (const limit of ['1.5', 2.5, -1, 'ten']) {
      assert.equal(issuesOf(() => parseTaskSpec({ ...base, limit }))[0], 'limit: must be a positive integer or a percentage like "10%"', String(limit));
    }
  });

  it('says why a percentage is refused: above 100% of the targets, or 0%', () => {
    assert.deepEqual(issuesOf(() => parseTaskSpec({ ...base, limit: '150%' })), [
      'limit: "150%" is more than 100% of the targets: a percentage must be above 0% and at most 100% (or give a number of nodes like 2)',
    ]);
    assert.deepEqual(issuesOf(() => parseTaskSpec({ ...base, max_failures: '101%' })), [
      'max_failures: "101%" is more than 100% of the targets: a percentage must be above 0% and at most 100% (or give a number of nodes like 2)',
    ]);
    assert.deepEqual(issuesOf(() => parseTaskSpec({ ...base, limit: '0%' })), ['limit: "0%" would allow no node at all: a percentage must be above 0% and at most 100%']);
  });

  it('reports unknown fields (a typo must not silently mean the default), one line each, with the field meant', () => {
    assert.deepEqual(issuesOf(() => parseTaskSpec({ ...base, limt: 2 })), ['limt: unknown field "limt": did you mean `limit`?']);
    assert.deepEqual(issuesOf(() => parseTaskSpec({ ...base, max_failure: 2, retry: { cuont: 1 } })).sort(), [
      'max_failure: unknown field "max_failure": did you mean `max_failures`?',
      'retry.cuont: unknown field "cuont": did you mean `count`?',
    ]);
    const far = issuesOf(() => parseTaskSpec({ ...base, colour: 'red' }));
    assert.equal(far.length, 1);
    assert.match(far[0] ?? '', /^colour: unknown field "colour": known fields: name, action, .*limit/);
  });

  it('validates schedule as the scheduler (node-cron) will, with the field and a valid example', () => {
    for (const [schedule, why] of [
      ['61 * * * *', '61 is an invalid expression for minute'],
      ['every day', 'expected 5 or 6 fields but got 2'],
      ['0 25 * * *', '25 is an invalid expression for hour'],
    ] as const) {
      const msgs = issuesOf(() => parseTaskSpec({ ...base, schedule }));
      assert.equal(msgs.length, 1, schedule);
      assert.equal(msgs[0], `schedule: "${schedule}" is not a cron expression: ${why}; use 5 fields "minute hour day-of-month month day-of-week" (or 6, seconds first), e.g. "0 3 * * 2" for Tuesdays at 03:00`);
    }
    for (const schedule of ['0 3 * * 2', '0 3 * * tue', '*/10 * * * * *', '0 2 1-7 * mon']) assert.equal(parseTaskSpec({ ...base, schedule }).schedule, schedule);
  });

  it('bounds timeout below what Node timers can wait (a 30d timeout used to fail every node at once)', () => {
    assert.deepEqual(issuesOf(() => parseTaskSpec({ ...base, timeout: '30d' })), [
      'timeout: "30d" is longer than the maximum of 7d (Node timers cannot wait longer than 24.8 days; split longer work into steps)',
    ]);
    assert.equal(parseTaskSpec({ ...base, timeout: '7d' }).timeoutMs, MAX_TIMEOUT_MS);
    assert.ok(MAX_TIMEOUT_MS < 2 ** 31 - 1);
    assert.match(issuesOf(() => parseTaskSpec({ ...base, retry: { count: 1, backoff: '2d' } }))[0] ?? '', /^retry\.backoff: "2d" is longer than the maximum of 1d/);
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
    // The first name listed again is the one named, however long the list.
    const many = Array.from({ length: 5000 }, (_, i) => `n${i}`);
    assert.match(issuesOf(() => parseTaskSpec({ ...base, nodes: [...many, 'n4000', 'n7'] }))[0] ?? '', /nodes: lists "n4000" twice/);
    assert.equal(parseTaskSpec({ ...base, nodes: many }).nodes.length, 5000);
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
