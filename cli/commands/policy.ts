// `taskerman policy apply <file|dir>... | show [cluster] | remove <cluster>`: the cluster budget's policies,
// kept in git (one file per cluster) and written to ZooKeeper. `apply` validates every file before it writes
// any, and says what changed; an unchanged policy is not rewritten (its version and applied_at stay).
import { Command } from 'commander';
import { NotFoundError, SpecError, type Issue } from '../../core/errors.js';
import type { ClusterPolicy } from '../../core/budget/policy.js';
import { audited } from '../audit-trail.js';
import { commandContext, withBudget } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { operatorId } from '../operator.js';
import { policyChanges, policyJson, policyText, type PolicyChange } from '../policy-view.js';
import { EXIT, ExitError } from '../handle-error.js';
import { loadSpecOrPolicy, specFiles } from './validate.js';

/** Reads every file as a policy; throws one SpecError listing every problem of every file. */
export async function loadPolicies(paths: string[]): Promise<Array<{ file: string; policy: ClusterPolicy }>> {
  const files = await specFiles(paths);
  if (files.length === 0) throw new ExitError(EXIT.usage, `taskerman: no policy files (.yaml, .yml, .json) in ${paths.join(', ')}`);
  const issues: Issue[] = [];
  const out: Array<{ file: string; policy: ClusterPolicy }> = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    try {
      const l = await loadSpecOrPolicy(file, 'policy');
      if (l.kind !== 'policy') continue;
      const prev = seen.get(l.policy.cluster);
      if (prev) {
        issues.push({ file, field: 'cluster', message: `"${l.policy.cluster}" already has a policy in ${prev}; keep one policy file per cluster` });
        continue;
      }
      seen.set(l.policy.cluster, file);
      out.push({ file, policy: l.policy });
    } catch (err) {
      if (err instanceof SpecError) issues.push(...err.issues);
      else throw err;
    }
  }
  if (issues.length) throw new SpecError(issues);
  return out;
}

interface Applied {
  cluster: string;
  file: string;
  change: 'created' | 'changed' | 'unchanged';
  changes: PolicyChange[];
  version: number | null;
}

function applyCommand(): Command {
  return withCommonOptions(
    new Command('apply')
      .description('validate policy files (a directory: every .yaml/.yml/.json in it), then write them to ZooKeeper; prints what changed')
      .argument('<paths...>', 'policy files or directories of them (one file per cluster)')
      .option('--dry-run', 'validate and show what would change, write nothing')
      .option('--json', 'print JSON'),
  ).action(async (paths: string[], o: { dryRun?: boolean; json?: boolean }, cmd: Command) => {
    const ctx = commandContext(cmd);
    // Every file is validated before anything is written: a bad file in a commit changes nothing.
    const policies = await loadPolicies(paths);
    const by = operatorId();
    const results = await withBudget(ctx, async (budget) => {
      const out: Applied[] = [];
      for (const { file, policy } of policies) {
        const current = await budget.getPolicy(policy.cluster);
        const changes = policyChanges(current, policy);
        const change = !current ? 'created' : changes.length ? 'changed' : 'unchanged';
        let version = current?.version ?? null;
        if (change !== 'unchanged' && !o.dryRun) {
          version = (await audited(ctx, { command: 'policy apply', cluster: policy.cluster, args: { file, change, changes: changes.length } }, () => budget.applyPolicy(policy, by), budget.coordinator)).version;
        }
        out.push({ cluster: policy.cluster, file, change, changes, version });
      }
      return out;
    });
    if (o.json) {
      ctx.out(JSON.stringify({ dry_run: Boolean(o.dryRun), applied: results }, null, 2));
      return;
    }
    const verb = (c: Applied['change']) => (o.dryRun ? (c === 'unchanged' ? 'unchanged' : `would be ${c}`) : c);
    for (const r of results) {
      ctx.out(`${r.cluster}: ${verb(r.change)} (${r.file}${r.version !== null && !o.dryRun ? `, version ${r.version}` : ''})`);
      for (const c of r.changes) ctx.out(`  ${c.field}: ${r.change === 'created' ? c.to : `${c.from} -> ${c.to}`}`);
    }
    if (o.dryRun) ctx.err('taskerman: --dry-run: nothing was written');
  });
}

function showCommand(): Command {
  return withCommonOptions(
    new Command('show')
      .description("print a cluster's policy as applied (who, when, version), or every cluster's")
      .argument('[cluster]', 'one cluster (default: every cluster that has a policy)')
      .option('--json', 'print JSON (durations in ms, times ISO-8601 with milliseconds)'),
  ).action(async (cluster: string | undefined, o: { json?: boolean }, cmd: Command) => {
    const ctx = commandContext(cmd);
    const policies = await withBudget(ctx, async (budget) => {
      const clusters = cluster ? [cluster] : await budget.clusters();
      const found = [];
      for (const c of clusters) {
        const p = await budget.getPolicy(c);
        if (p) found.push(p);
      }
      return found;
    });
    if (cluster && policies.length === 0) {
      throw new NotFoundError(`policy of cluster ${cluster}`, { hint: `without a policy the cluster is governed by its tasks' limits alone; \`taskerman policy apply <file>\` sets one (is --zk-root ${ctx.cfg.zkRoot} right?)` });
    }
    if (o.json) {
      ctx.out(JSON.stringify(cluster ? policyJson(policies[0] as (typeof policies)[number]) : policies.map(policyJson), null, 2));
      return;
    }
    if (policies.length === 0) ctx.err('taskerman: no cluster has a policy (each is governed by its tasks\' limits alone)');
    else ctx.out(policies.map(policyText).join('\n\n'));
  });
}

function removeCommand(): Command {
  return withCommonOptions(
    new Command('remove')
      .description("remove a cluster's policy: its tasks' limits alone govern it again (grants held stay)")
      .argument('<cluster>')
      .option('--json', 'print JSON'),
  ).action(async (cluster: string, o: { json?: boolean }, cmd: Command) => {
    const ctx = commandContext(cmd);
    const removed = await withBudget(ctx, (budget) => budget.removePolicy(cluster));
    if (!removed) throw new NotFoundError(`policy of cluster ${cluster}`, { hint: `nothing to remove; \`taskerman policy show\` lists the policies (is --zk-root ${ctx.cfg.zkRoot} right?)` });
    ctx.out(o.json ? JSON.stringify({ cluster, removed: true, by: operatorId() }) : `${cluster}: policy removed; its tasks' limits alone govern it now`);
  });
}

export function policyCommand(): Command {
  return new Command('policy')
    .description('cluster budget policies: apply them from files kept in git, show them, remove one')
    .addCommand(applyCommand())
    .addCommand(showCommand())
    .addCommand(removeCommand())
    .addHelpText(
      'after',
      `
A policy file (one per cluster, e.g. policies/cassandra-geo_counter.yaml):
  cluster: cassandra:geo_counter
  budget: 2                 # nodes disrupted at once by every task and hold together, or "10%"
  zone_budget: 1            # per zone
  health: { check: ring-healthy, timeout: 30s }   # a check defined in the runners' config (checks:)
  return_grace: 15m         # flag a granted node whose runner has been gone this long
  ageing: 5m                # a waiting request rises one priority level per this long`,
    );
}
