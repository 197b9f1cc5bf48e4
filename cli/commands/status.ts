// `taskerman status <task_id>`: each node's state, attempts, start and end times; --json for scripts;
// --watch follows the task until it ends.
import { Command } from 'commander';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { NotFoundError } from '../../core/errors.js';
import { isValidTaskId, type NodeRecord, type TaskRecord } from '../../core/task/task.js';
import type { TaskStore } from '../../core/task/task-store.js';
import { OptionError } from '../../core/errors.js';
import { commandContext, withBackends } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { statusJson, statusText } from '../status-view.js';
import { waitForTask } from '../wait.js';

/**
 * A WAITING node that waits for its grant shows why, in the budget keeper's words ("waiting: cluster budget: 2
 * of 2 disrupted (...)"), rather than the runner's generic text: the keeper's waiting list names the node and
 * the task of each request. Other WAITING reasons (paused, outside the window) are the runner's and stay.
 */
export async function withBudgetReasons(store: TaskStore, t: TaskRecord, nodes: NodeRecord[]): Promise<NodeRecord[]> {
  const waitingForGrant = (n: NodeRecord) => n.state === 'WAITING' && (n.reason === undefined || /^(waiting for a grant|grant lost)/.test(n.reason));
  if (!nodes.some(waitingForGrant)) return nodes;
  const gate = (await new BudgetStore(store.coordinator, store.paths).getGate(String(t.spec.cluster))).value;
  const entries = new Map(gate.waiting.filter((w) => w.kind === 'task' && w.task_id === t.taskId).map((w) => [w.node, w]));
  return nodes.map((n) => {
    const w = waitingForGrant(n) ? entries.get(n.node) : undefined;
    return w ? { ...n, reason: `waiting: ${w.reason}` } : n;
  });
}

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
      if (o.watch) await waitForTask(b.store, taskId, { out: ctx.err });
      const t = await b.store.getTask(taskId);
      if (!t) throw new NotFoundError(`task ${taskId}`, { hint: `is --zk-root right (${ctx.cfg.zkRoot})? list tasks with \`taskerman tasks\`` });
      const nodes = await withBudgetReasons(b.store, t.value, await b.store.listNodes(taskId));
      ctx.out(o.json ? JSON.stringify(statusJson(t.value, nodes), null, 2) : statusText(t.value, nodes));
    });
  });
}
