// `taskerman plan <spec>` (and `run --dry-run`): resolve targets and show the limit, failure budget, live
// runners and the cluster budget, without enqueuing anything.
import { Command } from 'commander';
import { planTask, planText } from '../../core/discovery/plan.js';
import { loadTaskSpecFile, type TaskSpec } from '../../core/task/task-spec.js';
import { commandContext, withBackends, type CommandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { buildDiscoveries, withDiscoveryOptions, type DiscoveryFlags } from '../discovery-options.js';
import { checkAction } from '../check-action.js';

export async function printPlan(ctx: CommandContext, spec: TaskSpec, flags: DiscoveryFlags, json: boolean): Promise<void> {
  checkAction(spec);
  await withBackends(ctx, async (b) => {
    const d = buildDiscoveries(flags, ctx.cfg, b.store, ctx.logger);
    try {
      const plan = await planTask(spec, d.map, b.store);
      ctx.out(json ? JSON.stringify(plan, null, 2) : planText(plan));
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
