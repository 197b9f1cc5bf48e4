// The sample Grafana dashboard and Prometheus alert rules under examples/monitoring/ reference only
// metrics that the code's registry exports (a renamed metric would silently empty a panel or mute an
// alert), and the alerts the issue asks for are there.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { createMetrics, metricNames } from '../../core/metrics/metrics.js';

const DIR = new URL('../../examples/monitoring/', import.meta.url);
/** Series that Prometheus itself makes, not the process. */
const PROMETHEUS_OWN = new Set(['up']);

function exprsOfDashboard(): string[] {
  const d = JSON.parse(readFileSync(new URL('grafana-dashboard.json', DIR), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
  return d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

function rules(): Array<{ alert: string; expr: string }> {
  const r = parseYaml(readFileSync(new URL('alerts.yaml', DIR), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  return r.groups.flatMap((g) => g.rules);
}

/** Metric names in a PromQL expression: identifiers followed by a selector, a range or the end of a term, not functions or labels. */
function metricsIn(expr: string): string[] {
  const noStrings = expr.replace(/"[^"]*"/g, '""');
  const noLabels = noStrings.replace(/\[[^\]]*\]/g, '[]').replace(/\{[^}]*\}/g, '{}').replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const out: string[] = [];
  for (const m of noLabels.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const name = m[0];
    const next = noLabels.slice((m.index ?? 0) + name.length).trimStart()[0];
    if (next === '(') continue; // a function or an aggregation
    if (['and', 'or', 'unless', 'by', 'without', 'bool', 'offset', 'le'].includes(name)) continue;
    out.push(name);
  }
  return out;
}

describe('examples/monitoring', () => {
  it('the dashboard and the alert rules reference only metrics the code exports', async () => {
    const known = await metricNames(createMetrics().registry);
    const exprs = [...exprsOfDashboard(), ...rules().map((r) => r.expr)];
    assert.ok(exprs.length >= 20, `found ${exprs.length} expressions`);
    const missing = new Set<string>();
    let referenced = 0;
    for (const e of exprs) {
      for (const name of metricsIn(e)) {
        referenced++;
        if (!known.has(name) && !PROMETHEUS_OWN.has(name)) missing.add(`${name} (in ${e})`);
      }
    }
    assert.ok(referenced >= exprs.length, 'every expression names a metric');
    assert.deepEqual([...missing], []);
  });

  it('the extractor sees a metric that does not exist', () => {
    assert.deepEqual(metricsIn('sum by (cluster) (rate(taskerman_nope_total{state="x"}[5m])) > 0'), ['taskerman_nope_total']);
  });

  it('has the alerts the runbook relies on', () => {
    const names = rules().map((r) => r.alert);
    for (const a of ['TaskermanTaskHalted', 'TaskermanDeadLetterArrived', 'TaskermanGrantHeldPastGrace', 'TaskermanRunnerGone', 'TaskermanSchedulerWithoutLeader']) assert.ok(names.includes(a), `${a} is defined`);
  });
});
