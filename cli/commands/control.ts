// `taskerman cancel | pause | resume <task_id>`: operator controls on a running task.
import { Command } from 'commander';
import { currentUser } from '../../core/task/emit.js';
import { OptionError } from '../../core/errors.js';
import { cancelTask, pauseTask, resumeTask } from '../../core/task/task-control.js';
import { isValidTaskId, type TaskRecord } from '../../core/task/task.js';
import { toIso } from '../output/json-time.js';
import { printJson } from '../output/print.js';
import type { Backends } from '../backends.js';
import { commandContext, withBackends } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { audited } from '../audit-trail.js';

interface Outcome {
  text: string;
  task: TaskRecord;
  requeued?: string[];
}

const actor = (a: { by: string; at: string } | undefined) => (a ? { by: a.by, at: toIso(a.at) ?? a.at } : null);

function controlCommand(name: 'cancel' | 'pause' | 'resume', description: string, act: (b: Backends, taskId: string) => Promise<Outcome>): Command {
  return withCommonOptions(new Command(name).description(description).argument('<task_id>').option('--json', 'print JSON')).action(
    async (taskId: string, o: { json?: boolean }, cmd: Command) => {
      if (!isValidTaskId(taskId)) throw new OptionError('task_id', `"${taskId}" is not a task id (see \`taskerman tasks\`)`);
      const ctx = commandContext(cmd);
      await withBackends(ctx, async (b) => {
        const cluster = (await b.store.getTask(taskId))?.value.spec.cluster;
        const r = await audited(ctx, { command: name, taskId, ...(cluster ? { cluster: String(cluster) } : {}) }, () => act(b, taskId), b.store.coordinator);
        if (o.json) printJson(ctx, 'control', { task_id: taskId, state: r.task.state, paused: actor(r.task.paused), cancelled: actor(r.task.cancelled), requeued: r.requeued ?? [] });
        else ctx.out(r.text);
      });
    },
  );
}

export const cancelCommand = () =>
  controlCommand('cancel', 'cancel a task: no further node starts, actions in flight are aborted, the task ends cancelled', async (b, id) => {
    const t = await cancelTask(b.store, id, currentUser());
    return { text: `task ${id} cancelled`, task: t };
  });

export const pauseCommand = () =>
  controlCommand('pause', 'stop admission: no further node of the task starts until resume; nodes in flight finish', async (b, id) => {
    const t = await pauseTask(b.store, id, currentUser());
    return { text: `task ${id} paused`, task: t };
  });

export const resumeCommand = () =>
  controlCommand('resume', 'resume a paused task, or a halted one (its skipped nodes are queued again; the failure budget starts afresh)', async (b, id) => {
    const r = await resumeTask(b.store, b.queue, b.names, id, currentUser());
    return { text: `task ${id} resumed (${r.task.state})${r.requeued.length ? `; queued again: ${r.requeued.join(', ')}` : ''}`, task: r.task, requeued: r.requeued };
  });
