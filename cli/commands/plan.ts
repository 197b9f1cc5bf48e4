// `taskerman plan <spec>` (and `run --dry-run`): resolve targets and show the limit, failure budget, live
// runners and the cluster budget, without enqueuing anything.
import { Command } from 'commander';
import { planTask, planText, type Plan } from '../../core/discovery/plan.js';
import { printJson } from '../output/print.js';
import type { OutputOf } from '../output/outputs.js';
import { loadTaskSpecFile, type TaskSpec } from '../../core/task/task-spec.js';
import { commandContext, withBackends, type CommandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { buildDiscoveries, withDiscoveryOptions, type DiscoveryFlags } from '../discovery-options.js';
import { checkAction } from '../check-action.js';

export function planJson(p: Plan): OutputOf<'plan'> {
  return {
    cluster: p.cluster,
    action: p.action,
    discovery: p.discovery,
    targets: p.targets,
    limit: p.limit,
    max_failures: p.maxFailures,
    live: p.live,
    not_live: p.notLive,
    budget: {
      budget: p.budget.budget ?? null,
      zone_budget: p.budget.zoneBudget ?? null,
      health_check: p.budget.healthCheck ?? null,
      disrupted: p.budget.disrupted,
      grants: p.budget.grants.map((g) => ({ node: g.node, task_id: g.taskId ?? null, kind: g.kind, dead: g.dead })),
      waiting: p.budget.waiting,
      headroom: p.budget.headroom,
    },
  };
}

export async function printPlan(ctx: CommandContext, spec: TaskSpec, flags: DiscoveryFlags, json: boolean): Promise<void> {
  await checkAction(spec);
  await withBackends(ctx, async (b) => {
    const d = buildDiscoveries(flags, ctx.cfg, b.store, ctx.logger);
    try {
      const plan = await planTask(spec, d.map, b.store);
      if (json) printJson(ctx, 'plan', planJson(plan));
      else ctx.out(planText(plan));
    } finally {
      d.close();
    }
  });
}

export function planCommand(): Command {
  return withCommonOptions(
    withDiscoveryOptions(
      new Command('plan')
        .description('show what a spec would do (targets, limit, failure budget, live runners, the cluster budget) without enqueuing it')
        .argument('<spec>', 'a task spec, YAML or JSON')
        .option('--json', 'print JSON'),
    ),
  ).action(async (file: string, o: DiscoveryFlags & { json?: boolean }, cmd: Command) => {
    const ctx = commandContext(cmd);
    await printPlan(ctx, await loadTaskSpecFile(file), o, Boolean(o.json));
  });
}
