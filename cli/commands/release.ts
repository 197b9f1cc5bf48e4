// `taskerman release <cluster> --node n`: gives back a node's grant, whatever holds it — a hold, a task's grant
// whose node is DEAD or whose runner is not coming back, a stuck one — recording who and why in the cluster's
// event log. A runner whose live task loses its grant this way stops its action (the grant's signal) and asks
// for a grant again.
import { Command } from 'commander';
import type { GrantRecord } from '../../core/budget/records.js';
import { NotFoundError, OptionError } from '../../core/errors.js';
import { audited } from '../audit-trail.js';
import { commandContext, withBudget } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { operatorId } from '../operator.js';

export function describeGrant(g: GrantRecord): string {
  const holder = g.kind === 'hold' ? `hold by ${g.by}${g.reason ? ` (${g.reason})` : ''}` : `task ${g.task_id ?? '?'}`;
  return `${holder}, token ${g.token}, granted ${g.granted_at}${g.dead ? `, DEAD since ${g.dead.at}: ${g.dead.reason}` : ''}`;
}

export function releaseCommand(): Command {
  return withCommonOptions(
    new Command('release')
      .description("give back a node's grant (a hold, a DEAD node's, a stuck one), recording who and why; exit 1 if it held none")
      .argument('<cluster>', 'the cluster the node belongs to')
      .requiredOption('--node <name>', 'the node whose grant to give back')
      .option('--reason <text>', 'why (recorded in the cluster\'s event log)', 'released by an operator')
      .option('--json', 'print JSON'),
  ).action(async (cluster: string, o: { node: string; reason: string; json?: boolean }, cmd: Command) => {
    const ctx = commandContext(cmd);
    const reason = o.reason.trim();
    if (!reason) throw new OptionError('reason', 'must not be empty: say why, e.g. --reason "disk swapped"');
    const by = operatorId();
    const { released, live } = await withBudget(ctx, async (budget) => {
      const g = await audited(ctx, { command: 'release', cluster, node: o.node, args: { reason } }, () => budget.releaseGrant(cluster, o.node, { by, reason, kind: 'released' }), budget.coordinator);
      return { released: g, live: g?.kind === 'task' ? (await budget.liveNodes(cluster)).includes(o.node) : false };
    });
    if (!released) throw new NotFoundError(`grant of ${o.node} in ${cluster}`, { hint: `it holds none; \`taskerman budget ${cluster}\` lists the grants` });
    if (o.json) {
      ctx.out(JSON.stringify({ cluster, node: o.node, released: { ...released, zone: released.zone ?? null, task_id: released.task_id ?? null, reason: released.reason ?? null, expires_at: released.expires_at ?? null, dead: released.dead ?? null }, by, reason }, null, 2));
      return;
    }
    ctx.out(`released ${o.node} of ${cluster}: ${describeGrant(released)}`);
    if (released.kind === 'task' && live && !released.dead) {
      ctx.err(`note: ${o.node}'s runner is live: an action of task ${released.task_id} still in flight there is aborted, and the node asks for a grant again`);
    }
  });
}
