// `taskerman status <task_id>`: each node's state, attempts, start and end times; --json for scripts;
// --watch follows the task until it ends.
import { Command } from 'commander';
import { NotFoundError } from '../../core/errors.js';
import { isValidTaskId } from '../../core/task/task.js';
import { OptionError } from '../../core/errors.js';
import { commandContext, withBackends } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { statusJson, statusText } from '../status-view.js';
import { waitForTask } from '../wait.js';
import { progressReporterFor } from '../progress/progress-reporter.js';

export function statusCommand(): Command {
  return withCommonOptions(
    new Command('status')
      .description("show a task's state and each node's state, attempts, start and end times")
      .argument('<task_id>')
      .option('--json', 'print JSON (times as ISO-8601 with milliseconds)')
      .option('--watch', 'follow the task until it ends'),
  ).action(async (taskId: string, o: { json?: boolean; watch?: boolean }, cmd: Command) => {
    const ctx = commandContext(cmd);
    if (!isValidTaskId(taskId)) throw new OptionError('task_id', `"${taskId}" is not a task id (see \`taskerman tasks\`)`);
    await withBackends(ctx, async (b) => {
      if (o.watch) {
        const bar = progressReporterFor(process.stderr);
        await waitForTask(b.store, taskId, { out: bar ? undefined : ctx.err, ...(bar ? { progress: bar.update } : {}) }).finally(() => bar?.done());
      }
      const t = await b.store.getTask(taskId);
      if (!t) throw new NotFoundError(`task ${taskId}`, { hint: `is --zk-root right (${ctx.cfg.zkRoot})? list tasks with \`taskerman tasks\`` });
      const nodes = await b.store.listNodes(taskId);
      ctx.out(o.json ? JSON.stringify(statusJson(t.value, nodes), null, 2) : statusText(t.value, nodes));
    });
  });
}
