// Policy files as `taskerman validate` and `taskerman policy apply` read them: told from task specs by their
// fields, each problem named with its file and field, one policy per cluster, and what applying one changes.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadPolicies } from '../../cli/commands/policy.js';
import { loadSpecOrPolicy, specFiles, validateFiles } from '../../cli/commands/validate.js';
import { policyChanges, policyJson, policyText } from '../../cli/policy-view.js';
import { parsePolicy } from '../../core/budget/policy.js';
import { SpecError } from '../../core/errors.js';

const POLICY = 'cluster: cassandra:geo_counter\nbudget: 2\nzone_budget: 1\nhealth: { check: ring-healthy, timeout: 30s }\nreturn_grace: 15m\n';
const SPEC = 'name: weekly\naction: sleep\ncluster: cassandra:geo_counter\nnodes: [n1, n2]\nlimit: 2\n';

describe('policy files', function () {
  let dir = '';
  beforeEach(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), 'taskerman-policy-'));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('validate takes a directory mixing task specs and policies, and knows which is which', async function () {
    await writeFile(path.join(dir, 'geo.policy.yaml'), POLICY);
    await writeFile(path.join(dir, 'weekly.yaml'), SPEC);
    const files = await specFiles([dir]);
    const r = await validateFiles(files);
    assert.deepEqual(r.issues, []);
    assert.deepEqual(r.ok.sort(), files.sort());
    assert.deepEqual(r.policies.map((p) => [path.basename(p.file), p.policy.cluster]), [['geo.policy.yaml', 'cassandra:geo_counter']]);
    const spec = await loadSpecOrPolicy(path.join(dir, 'weekly.yaml'));
    assert.equal(spec.kind, 'spec');
  });

  it('a bad policy names its file, the field and the fix; a second policy of one cluster is refused', async function () {
    const bad = path.join(dir, 'bad.yaml');
    const twin = path.join(dir, 'z-twin.yaml');
    await writeFile(path.join(dir, 'a-good.yaml'), POLICY);
    await writeFile(bad, 'cluster: kafka:events\nbudget: 0\nzone_budgt: 1\n');
    await writeFile(twin, 'cluster: cassandra:geo_counter\nbudget: 3\n');
    const r = await validateFiles(await specFiles([dir]));
    const budget = r.issues.find((i) => i.file === bad && i.field === 'budget');
    assert.ok(budget, JSON.stringify(r.issues));
    assert.match(budget.message, /0 is not a whole number of nodes of 1 or more/);
    // An unknown field makes it a policy still (it has `budget`), and the typo is named.
    const typo = r.issues.find((i) => i.file === bad && /unknown field "zone_budgt"/.test(i.message));
    assert.ok(typo, JSON.stringify(r.issues));
    const dup = r.issues.find((i) => i.file === twin);
    assert.deepEqual(dup && { field: dup.field, message: dup.message }, { field: 'cluster', message: `"cassandra:geo_counter" already has a policy in ${path.join(dir, 'a-good.yaml')}; keep one policy file per cluster` });
    assert.deepEqual(r.ok, [path.join(dir, 'a-good.yaml')]);
  });

  it('policy apply reads every file as a policy and lists every problem before anything is written', async function () {
    await writeFile(path.join(dir, 'a.yaml'), POLICY);
    await writeFile(path.join(dir, 'b.yaml'), SPEC);
    await writeFile(path.join(dir, 'c.yaml'), 'cluster: kafka:events\nbudget: "150%"\n');
    await assert.rejects(loadPolicies([dir]), (err: unknown) => {
      assert.ok(err instanceof SpecError);
      const b = err.issues.filter((i) => i.file === path.join(dir, 'b.yaml'));
      assert.ok(b.some((i) => /unknown field/.test(i.message) && /a policy has cluster, budget/.test(i.message)), JSON.stringify(b));
      assert.ok(err.issues.some((i) => i.file === path.join(dir, 'c.yaml') && i.field === 'budget' && /out of range/.test(i.message)), JSON.stringify(err.issues));
      return true;
    });
    await rm(path.join(dir, 'b.yaml'));
    await rm(path.join(dir, 'c.yaml'));
    const ok = await loadPolicies([dir]);
    assert.deepEqual(ok.map((p) => p.policy.cluster), ['cassandra:geo_counter']);
  });

  it('the example policies validate, and each is read as a policy', async function () {
    const files = await specFiles(['examples/policies']);
    assert.ok(files.length >= 2, files.join(', '));
    const r = await validateFiles(files);
    assert.deepEqual(r.issues, []);
    assert.equal(r.policies.length, files.length);
  });

  it('says what applying a policy changes, field by field', function () {
    const cur = parsePolicy({ cluster: 'c', budget: 2, return_grace: '15m' });
    assert.deepEqual(policyChanges(cur, parsePolicy({ cluster: 'c', budget: 2, return_grace: '15m' })), []);
    assert.deepEqual(policyChanges(cur, parsePolicy({ cluster: 'c', budget: '10%', zone_budget: 1, return_grace: '15m' })), [
      { field: 'budget', from: '2', to: '10%' },
      { field: 'zone_budget', from: '-', to: '1' },
    ]);
    const created = policyChanges(undefined, cur);
    assert.deepEqual(created.map((c) => c.field), ['budget', 'zone_budget', 'health', 'return_grace', 'ageing']);
    assert.ok(created.every((c) => c.from === '(none)'));
  });

  it('policy show --json is snake_case with durations in ms; the text names every field', function () {
    const p = { ...parsePolicy({ cluster: 'c', budget: '10%', health: { check: 'ok', timeout: '20s' }, return_grace: '30m' }), applied_by: 'ana@h', applied_at: '2026-11-30T10:00:00.000Z', version: 3 };
    assert.deepEqual(policyJson(p), {
      cluster: 'c',
      budget: '10%',
      zone_budget: null,
      health: { check: 'ok', timeout_ms: 20_000, interval_ms: 10_000 },
      return_grace_ms: 1_800_000,
      ageing_ms: 300_000,
      applied_by: 'ana@h',
      applied_at: '2026-11-30T10:00:00.000Z',
      version: 3,
    });
    const text = policyText(p);
    assert.match(text, /^c {2}\(version 3, applied by ana@h at 2026-11-30T10:00:00.000Z\)$/m);
    assert.match(text, /^ {2}budget: {7}10%$/m);
    assert.match(text, /^ {2}health: {7}ok \(timeout 20s, re-checked every 10s while closed\)$/m);
    assert.match(text, /^ {2}return_grace: 30m$/m);
  });
});
