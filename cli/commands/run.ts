// `taskerman run <action>`: build a task from flags, validate it, put it on the global queue, and with
// --wait follow it to the end (exit 1 if it did not succeed).
import { Command, Option } from 'commander';
import { currentUser, emitTask } from '../../core/task/emit.js';
import { BackendError, OptionError } from '../../core/errors.js';
import { queueNames, type QueueNames } from '../../core/queue/queue-names.js';
import type { Coordinator } from '../../core/coordination/coordinator.js';
import { TaskStore } from '../../core/task/task-store.js';
import { parseTaskSpec, type TaskSpec, type TaskSpecInput } from '../../core/task/task-spec.js';
import { commandContext, withQueue, withStartedBackends, type CommandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { statusJson, statusText } from '../status-view.js';
import { printJson } from '../output/print.js';
import { useColour } from '../output/colour.js';
import { checkAction } from '../check-action.js';
import { DEFAULT_GIVE_UP_MS, stoppedFollowing, taskOutcome, waitForTask } from '../wait.js';
import { giveUpOption, parseGiveUp } from '../follow-options.js';
import { audited, auditedInBackground, openForAudit } from '../audit-trail.js';
import { progressReporterFor } from '../progress/progress-reporter.js';
import { withDiscoveryOptions, type DiscoveryFlags } from '../discovery-options.js';

const collect = (v: string, prev: string[]) => [...prev, v];

/** `--arg k=v`: values that read as JSON (numbers, true/false, lists) are typed; anything else is a string. */
export function parseArgFlags(pairs: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new OptionError('arg', `"${p}" must look like key=value`);
    const key = p.slice(0, eq);
    const raw = p.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    out[key] = value;
  }
  return out;
}

/** Enqueues a validated spec; with --wait follows it and maps its end state to the exit code. */
export async function submitSpec(ctx: CommandContext, spec: TaskSpec, opts: { wait?: boolean; json?: boolean; giveUpMs?: number; command?: 'run' | 'submit'; file?: string }): Promise<void> {
  await checkAction(spec);
  const emitter = { kind: 'cli' as const, user: currentUser() };
  const what = {
    command: opts.command ?? 'run',
    cluster: spec.cluster,
    args: { name: spec.name, action: spec.action, limit: spec.limit, max_failures: spec.maxFailures, ...(opts.file ? { file: opts.file } : {}), ...(spec.nodes?.length ? { nodes: spec.nodes.length } : {}) },
  } as const;
  if (!opts.wait) {
    await withQueue(ctx, async (queue) => {
      // The audit record's ZooKeeper session connects while the task is sent.
      const task = await audited(
        ctx,
        { ...what },
        async (w) => {
          const t = await emitTask(queue, queueNames(ctx.cfg.queuePrefix), spec, emitter);
          w.taskId = t.taskId;
          return t;
        },
        openForAudit(ctx),
      );
      if (opts.json) printJson(ctx, 'run', { task_id: task.taskId });
      else ctx.out(task.taskId);
    });
    return;
  }
  await withStartedBackends(
    ctx,
    (names) => [names.global],
    async (b) => {
      // The task is sent while ZooKeeper connects; the audit record is written (through the same session) while
      // the follow starts, and is in (or its failure warned about) before we end.
      const { value: task, recorded } = await auditedInBackground(
        ctx,
        { ...what },
        async (w) => {
          const t = await emitTask(b.queue, b.names, spec, emitter);
          w.taskId = t.taskId;
          return t;
        },
        b.coordinator,
      );
      try {
        if (!opts.json) ctx.out(task.taskId);
        const store = new TaskStore(await sessionToFollow(b.coordinator, task.taskId), ctx.cfg.zkRoot);
        await follow(ctx, store, b.names, task.taskId, opts);
      } finally {
        await recorded;
      }
    },
  );
}

/**
 * The session to follow a task that is already on the queue. If ZooKeeper cannot be reached the task still
 * runs once a router can record it: say so, with its id, rather than let it look like nothing happened.
 */
async function sessionToFollow(coordinator: Promise<Coordinator>, taskId: string): Promise<Coordinator> {
  try {
    return await coordinator;
  } catch (err) {
    throw new BackendError('zookeeper', `task ${taskId} is enqueued, but it cannot be followed: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
      hint: `the task runs once a router can record it; do not run it again: follow it with \`taskerman status ${taskId} --watch\` (or cancel it) once ZooKeeper is back`,
    });
  }
}

/** Follows an emitted task to its end (Ctrl-C stops following), prints it, and maps its end state to the exit code. */
async function follow(ctx: CommandContext, store: TaskStore, names: QueueNames, taskId: string, opts: { json?: boolean; giveUpMs?: number }): Promise<void> {
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  process.once('SIGINT', onSignal);
  const bar = opts.json ? undefined : progressReporterFor(process.stderr);
  try {
    const r = await waitForTask(store, taskId, {
      out: opts.json || bar ? undefined : ctx.err,
      ...(bar ? { progress: bar.update } : {}),
      note: ctx.err,
      signal: ac.signal,
      zk: ctx.cfg.zk,
      giveUpMs: opts.giveUpMs ?? DEFAULT_GIVE_UP_MS,
      pending: { queue: names.global, region: ctx.cfg.region, zkRoot: ctx.cfg.zkRoot },
    }).finally(() => bar?.done());
    if (!r) throw stoppedFollowing(taskId);
    if (opts.json) printJson(ctx, 'status', statusJson(r.task, r.nodes));
    else ctx.out(`\n${statusText(r.task, r.nodes, { colour: useColour(process.stdout) })}`);
    taskOutcome(r);
  } finally {
    process.off('SIGINT', onSignal);
  }
}

export function runCommand(): Command {
  return withCommonOptions(
    withDiscoveryOptions(new Command('run')
      .description('run an action on a cluster now (an ad-hoc task)')
      .argument('<action>', 'a registered action, e.g. sleep, noop, exec')
      .requiredOption('--cluster <name>', 'the cluster, e.g. cassandra:geo_counter')
      .option('--nodes <a,b,...>', 'explicit target nodes (skips discovery)')
      .option('--destnode <node>', 'exactly one target node')
      .addOption(new Option('--discovery <kind>', 'how to find the targets when no nodes are given').choices(['aws_tags', 'static', 'members']))
      .option('--inventory <file>', 'inventory file for --discovery static')
      .option('--limit <n|pct>', 'at most this many nodes at a time, or a percentage like 10%', '1')
      .option('--max-failures <n|pct>', 'halt the rollout after this many failed nodes', '1')
      .option('--arg <key=value>', 'an action argument (repeatable); JSON values are typed', collect, [])
      .option('--retry <count>', 'retries per node after the first attempt', '0')
      .option('--backoff <duration>', 'base of the exponential backoff between attempts', '30s')
      .option('--timeout <duration>', 'time limit per node', '30m')
      .option('--name <name>', 'task name (default: <action>-adhoc)')
      .option('--owner <team>', 'owning team, recorded with the task')
      .option('--wait', 'follow the task and exit 0 only if every node succeeded')
      .addOption(giveUpOption())
      .option('--dry-run', 'print the plan (targets, limit, failure budget, live runners, the cluster budget) and enqueue nothing')
      .option('--json', 'print JSON')),
  ).action(async (action: string, o: Record<string, string | string[] | boolean | undefined>, cmd: Command) => {
    const ctx = commandContext(cmd);
    const retry = Number(o.retry);
    if (!Number.isInteger(retry) || retry < 0) throw new OptionError('retry', `"${String(o.retry)}" must be a whole number of retries (0 or more)`);
    const input: TaskSpecInput = {
      name: (o.name as string | undefined) ?? `${action.replace(/[^A-Za-z0-9._-]/g, '-')}-adhoc`,
      action,
      cluster: o.cluster as string,
      limit: o.limit as string,
      max_failures: o.maxFailures as string,
      args: parseArgFlags(o.arg as string[]),
      retry: { count: retry, backoff: o.backoff as string },
      timeout: o.timeout as string,
    };
    if (o.nodes) input.nodes = String(o.nodes).split(',').map((s) => s.trim()).filter(Boolean);
    if (o.destnode) input.destnode = o.destnode as string;
    if (o.discovery) input.discovery = o.discovery as TaskSpecInput['discovery'];
    if (o.inventory) input.inventory = o.inventory as string;
    if (o.owner) input.owner = o.owner as string;
    const spec = parseTaskSpec(input, '(command line)');
    // The plan (discovery, membership, the cluster budget) is loaded only for --dry-run.
    if (o.dryRun) return (await import('./plan.js')).printPlan(ctx, spec, o as unknown as DiscoveryFlags, Boolean(o.json));
    await submitSpec(ctx, spec, { wait: Boolean(o.wait), json: Boolean(o.json), giveUpMs: parseGiveUp(o.giveUpAfter as string) });
  });
}
