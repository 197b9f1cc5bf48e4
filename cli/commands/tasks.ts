// `taskerman tasks`: the most recent tasks with their state and progress.
import { Command } from 'commander';
import { OptionError } from '../../core/errors.js';
import { commandContext, withBackends } from '../command-context.js';
import { withCommonOptions } from '../config.js';

export function tasksCommand(): Command {
  return withCommonOptions(
    new Command('tasks')
      .description('list the most recently emitted tasks, newest first')
      .option('--last <n>', 'how many', '20')
      .option('--json', 'print JSON'),
  ).action(async (o: { last: string; json?: boolean }, cmd: Command) => {
    const ctx = commandContext(cmd);
    const last = Number(o.last);
    if (!Number.isInteger(last) || last < 1) throw new OptionError('last', 'must be a positive whole number');
    await withBackends(ctx, async (b) => {
      const list = (await b.store.recentTasks(last)).map(({ task: t, progress }) => ({
        task_id: t.taskId,
        state: t.state,
        paused: Boolean(t.paused),
        action: String(t.spec.action),
        cluster: String(t.spec.cluster),
        emitted_by: `${t.emittedBy.kind}:${t.emittedBy.user}`,
        emitted_at: t.emittedAt,
        done: progress?.terminal ?? 0,
        total: t.targetCount,
      }));
      if (o.json) return ctx.out(JSON.stringify(list, null, 2));
      if (list.length === 0) return ctx.out('no tasks');
      for (const r of list) {
        const state = r.paused ? `${r.state} (paused)` : r.state;
        ctx.out(`${r.task_id}  ${state.padEnd(9)}  ${`${r.done}/${r.total}`.padStart(7)}  ${r.action} on ${r.cluster}  by ${r.emitted_by} at ${r.emitted_at}`);
      }
    });
  });
}
