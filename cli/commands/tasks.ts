// `taskerman tasks`: the most recent tasks with their state and progress.
import { Command } from 'commander';
import { OptionError } from '../../core/errors.js';
import { mapLimit } from '../../core/pool.js';
import { commandContext, withBackends } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { countStates } from '../status-view.js';

export function tasksCommand(): Command {
  return withCommonOptions(
    new Command('tasks')
      .description('list recent tasks, newest first')
      .option('--last <n>', 'how many', '20')
      .option('--json', 'print JSON'),
  ).action(async (o: { last: string; json?: boolean }, cmd: Command) => {
    const ctx = commandContext(cmd);
    const last = Number(o.last);
    if (!Number.isInteger(last) || last < 1) throw new OptionError('last', 'must be a positive whole number');
    await withBackends(ctx, async (b) => {
      const ids = (await b.store.listTaskIds()).reverse().slice(0, last);
      const rows = await mapLimit(ids, 8, async (id) => {
        const t = await b.store.getTask(id);
        if (!t) return undefined;
        const c = countStates(await b.store.listNodes(id));
        const done = c.SUCCEEDED + c.DEAD + c.SKIPPED;
        return { task_id: id, state: t.value.state, action: String(t.value.spec.action), cluster: String(t.value.spec.cluster), emitted_by: `${t.value.emittedBy.kind}:${t.value.emittedBy.user}`, emitted_at: t.value.emittedAt, done, total: t.value.targets.length };
      });
      const list = rows.filter((r) => r !== undefined);
      if (o.json) return ctx.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return ctx.out('no tasks');
      for (const r of list) ctx.out(`${r.task_id}  ${r.state.padEnd(9)}  ${`${r.done}/${r.total}`.padStart(7)}  ${r.action} on ${r.cluster}  by ${r.emitted_by}`);
    });
  });
}
