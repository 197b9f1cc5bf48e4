// `taskerman cancel | pause | resume <task_id>`: operator controls on a running task.
import { Command } from 'commander';
import { currentUser } from '../../core/emit.js';
import { OptionError } from '../../core/errors.js';
import { cancelTask, pauseTask, resumeTask } from '../../core/task-control.js';
import { isValidTaskId } from '../../core/task.js';
import { commandContext, withBackends } from '../command-context.js';
import { withCommonOptions } from '../config.js';

function checkId(taskId: string): void {
  if (!isValidTaskId(taskId)) throw new OptionError('task_id', `"${taskId}" is not a task id (see \`taskerman tasks\`)`);
}

export function cancelCommand(): Command {
  return withCommonOptions(
    new Command('cancel')
      .description('cancel a task: no further node starts, actions in flight are aborted, the task ends cancelled')
      .argument('<task_id>')
      .option('--json', 'print JSON'),
  ).action(async (taskId: string, o: { json?: boolean }, cmd: Command) => {
    checkId(taskId);
    const ctx = commandContext(cmd);
    await withBackends(ctx, async (b) => {
      const t = await cancelTask(b.store, taskId, currentUser());
      ctx.out(o.json ? JSON.stringify({ task_id: taskId, state: t.state, cancelled: t.cancelled }) : `task ${taskId} cancelled`);
    });
  });
}

export function pauseCommand(): Command {
  return withCommonOptions(
    new Command('pause')
      .description('stop admission: no further node of the task starts until resume; nodes in flight finish')
      .argument('<task_id>')
      .option('--json', 'print JSON'),
  ).action(async (taskId: string, o: { json?: boolean }, cmd: Command) => {
    checkId(taskId);
    const ctx = commandContext(cmd);
    await withBackends(ctx, async (b) => {
      const t = await pauseTask(b.store, taskId, currentUser());
      ctx.out(o.json ? JSON.stringify({ task_id: taskId, state: t.state, paused: t.paused ?? null }) : `task ${taskId} paused`);
    });
  });
}

export function resumeCommand(): Command {
  return withCommonOptions(
    new Command('resume')
      .description('resume a paused task, or a halted one (its skipped nodes are queued again; the failure budget starts afresh)')
      .argument('<task_id>')
      .option('--json', 'print JSON'),
  ).action(async (taskId: string, o: { json?: boolean }, cmd: Command) => {
    checkId(taskId);
    const ctx = commandContext(cmd);
    await withBackends(ctx, async (b) => {
      const r = await resumeTask(b.store, b.queue, b.names, taskId);
      ctx.out(o.json ? JSON.stringify({ task_id: taskId, state: r.task.state, requeued: r.requeued }) : `task ${taskId} resumed (${r.task.state})${r.requeued.length ? `; queued again: ${r.requeued.join(', ')}` : ''}`);
    });
  });
}
