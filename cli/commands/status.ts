// `taskerman status <task_id>`: the task (name, owner, state, reason) and its nodes; a task with many nodes
// gets a summary first (counts by state, what runs, what waits, failures grouped by reason) and its node
// table with --nodes (filtered with --state); --json is always complete. --watch follows the task until it
// ends and exits like `run --wait`.
import { Command, Option } from 'commander';
import { NotFoundError, OptionError, TaskermanError } from '../../core/errors.js';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { isValidTaskId, NODE_STATES, type NodeRecord, type NodeState, type TaskRecord } from '../../core/task/task.js';
import type { TaskStore } from '../../core/task/task-store.js';
import type { Backends } from '../backends.js';
import { commandContext, withBackends, type CommandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { giveUpOption, parseGiveUp } from '../follow-options.js';
import { printJson } from '../output/print.js';
import { statusJson, statusText } from '../status-view.js';
import { useColour } from '../output/colour.js';
import { stoppedFollowing, taskOutcome, waitForTask } from '../wait.js';

/** When to say where a task waits instead of just "not found": the time in its id, if it has one. */
function emittedAtOf(taskId: string): Date | undefined {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(\d{3})Z-/.exec(taskId);
  if (!m) return undefined;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** A task with no record: still in the global queue (no router took it yet), or really unknown. */
async function notFound(ctx: CommandContext, b: Backends, taskId: string): Promise<TaskermanError> {
  const stats = await b.queue.stats(b.names.global);
  const waiting = stats.visible + stats.inFlight + stats.delayed;
  const emitted = emittedAtOf(taskId);
  if (waiting > 0) {
    return new TaskermanError('NOT_FOUND', `task ${taskId} is not recorded in ZooKeeper (--zk-root ${ctx.cfg.zkRoot}) yet`, {
      retryable: false,
      hint: `the global queue ${b.names.global} (region ${ctx.cfg.region}) holds ${waiting} message(s) no router has finished${emitted ? `; the task was emitted at ${emitted.toISOString()}` : ''}: is a router running with this --zk-root and --queue-prefix ${ctx.cfg.queuePrefix}?`,
    });
  }
  return new NotFoundError(`task ${taskId}`, { hint: `not in ZooKeeper under --zk-root ${ctx.cfg.zkRoot}, nor waiting in ${b.names.global} (region ${ctx.cfg.region}); list tasks with \`taskerman tasks\`` });
}

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
import { progressReporterFor } from '../progress/progress-reporter.js';

export function statusCommand(): Command {
  return withCommonOptions(
    new Command('status')
      .description("show a task (name, owner, state) and its nodes' states, attempts and durations; a summary first for big tasks")
      .argument('<task_id>')
      .option('--json', 'print JSON (complete: every node; see `taskerman schema --output status`)')
      .option('--watch', 'follow the task until it ends; exit 0 only if it succeeded (like run --wait)')
      .option('--nodes', 'print the node table even for a big task')
      .addOption(new Option('--state <states>', 'only nodes in these states (comma-separated), e.g. DEAD,FAILED'))
      .addOption(giveUpOption()),
  ).action(async (taskId: string, o: { json?: boolean; watch?: boolean; nodes?: boolean; state?: string; giveUpAfter: string }, cmd: Command) => {
    const ctx = commandContext(cmd);
    if (!isValidTaskId(taskId)) throw new OptionError('task_id', `"${taskId}" is not a task id (see \`taskerman tasks\`)`);
    const states = parseStates(o.state);
    const giveUpMs = parseGiveUp(o.giveUpAfter);
    await withBackends(ctx, async (b) => {
      if (o.watch) {
        const ac = new AbortController();
        const onSignal = () => ac.abort();
        process.once('SIGINT', onSignal);
        const bar = o.json ? undefined : progressReporterFor(process.stderr);
        try {
          const r = await waitForTask(b.store, taskId, {
            out: bar ? undefined : ctx.err,
            ...(bar ? { progress: bar.update } : {}),
            signal: ac.signal,
            zk: ctx.cfg.zk,
            giveUpMs,
            pending: { queue: b.names.global, region: ctx.cfg.region, zkRoot: ctx.cfg.zkRoot },
          }).finally(() => bar?.done());
          if (!r) throw stoppedFollowing(taskId);
          if (o.json) printJson(ctx, 'status', statusJson(r.task, r.nodes));
          else ctx.out(statusText(r.task, r.nodes, { states, showNodes: o.nodes, colour: useColour(process.stdout) }));
          taskOutcome(r);
          return;
        } finally {
          process.off('SIGINT', onSignal);
        }
      }
      const t = await b.store.getTask(taskId);
      if (!t) throw await notFound(ctx, b, taskId);
      const nodes = await withBudgetReasons(b.store, t.value, await b.store.listNodes(taskId));
      if (o.json) printJson(ctx, 'status', statusJson(t.value, nodes));
      else ctx.out(statusText(t.value, nodes, { states, showNodes: o.nodes, colour: useColour(process.stdout) }));
    });
  });
}

export function parseStates(v: string | undefined): NodeState[] | undefined {
  if (v === undefined) return undefined;
  const out: NodeState[] = [];
  for (const raw of v.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean)) {
    if (!(NODE_STATES as readonly string[]).includes(raw)) throw new OptionError('state', `"${raw}" is not a node state: one of ${NODE_STATES.join(', ')}`);
    out.push(raw as NodeState);
  }
  return out;
}
