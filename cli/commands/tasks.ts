// `taskerman tasks`: the most recently emitted tasks, newest first: a header and aligned columns (id, state,
// progress, name, owner, action on cluster, who and when), filtered by state, cluster, owner and age.
import { Command } from 'commander';
import { parseDuration } from '../../core/duration.js';
import { OptionError } from '../../core/errors.js';
import { TASK_STATES, type TaskState } from '../../core/task/task.js';
import { commandContext, withBackends } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { paint, paintState, useColour } from '../output/colour.js';
import { toIso } from '../output/json-time.js';
import type { OutputOf } from '../output/outputs.js';
import { printJson } from '../output/print.js';
import { table } from '../output/table.js';

interface TasksOptions {
  last: string;
  json?: boolean;
  state?: string;
  cluster?: string;
  owner?: string;
  since?: string;
}

export function parseTaskStates(v: string | undefined): TaskState[] | undefined {
  if (v === undefined) return undefined;
  const out: TaskState[] = [];
  for (const s of v.split(',').map((x) => x.trim().toLowerCase()).filter(Boolean)) {
    if (!(TASK_STATES as readonly string[]).includes(s)) throw new OptionError('state', `"${s}" is not a task state: one of ${TASK_STATES.join(', ')}`);
    out.push(s as TaskState);
  }
  return out;
}

/** `--since 2h` (a duration back from now) or an ISO-8601 time. */
export function parseSince(v: string | undefined, now = Date.now()): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseDuration(v);
  if (ms !== undefined && /[a-z]$/i.test(v.trim())) return now - ms;
  const t = Date.parse(v);
  if (!Number.isNaN(t) && /^\d{4}-\d\d-\d\d/.test(v)) return t;
  throw new OptionError('since', `"${v}" must be a duration back from now like 2h or 7d, or a time like 2026-11-30T08:00:00Z`);
}

export function tasksCommand(): Command {
  return withCommonOptions(
    new Command('tasks')
      .description('list the most recently emitted tasks, newest first, with their progress')
      .option('--last <n>', 'how many', '20')
      .option('--state <states>', `only tasks in these states (comma-separated): ${TASK_STATES.join(', ')}`)
      .option('--cluster <name>', 'only tasks on this cluster')
      .option('--owner <team>', 'only tasks of this owner')
      .option('--since <when>', 'only tasks emitted since: a duration back from now (2h, 7d) or an ISO-8601 time')
      .option('--json', 'print JSON (see `taskerman schema --output tasks`)'),
  ).action(async (o: TasksOptions, cmd: Command) => {
    const ctx = commandContext(cmd);
    const last = Number(o.last);
    if (!Number.isInteger(last) || last < 1) throw new OptionError('last', `"${o.last}" must be a positive whole number`);
    const states = parseTaskStates(o.state);
    const since = parseSince(o.since);
    await withBackends(ctx, async (b) => {
      const found = await b.store.recentTasks(
        last,
        (t) =>
          (!states || states.includes(t.state)) &&
          (!o.cluster || String(t.spec.cluster) === o.cluster) &&
          (!o.owner || t.spec.owner === o.owner) &&
          (since === undefined || Date.parse(t.emittedAt) >= since),
      );
      const list: OutputOf<'tasks'> = found.map(({ task: t, progress }) => ({
        task_id: t.taskId,
        name: String(t.spec.name),
        owner: typeof t.spec.owner === 'string' ? t.spec.owner : null,
        description: typeof t.spec.description === 'string' ? t.spec.description : null,
        state: t.state,
        reason: t.reason ?? null,
        paused: t.paused ? { by: t.paused.by, at: toIso(t.paused.at) ?? t.paused.at } : null,
        action: String(t.spec.action),
        cluster: String(t.spec.cluster),
        emitted_by: `${t.emittedBy.kind}:${t.emittedBy.user}`,
        emitted_at: toIso(t.emittedAt) ?? t.emittedAt,
        ended_at: toIso(t.endedAt),
        succeeded: progress?.SUCCEEDED ?? 0,
        dead: progress?.DEAD ?? 0,
        skipped: progress?.SKIPPED ?? 0,
        done: progress?.terminal ?? 0,
        total: t.targetCount,
      }));
      if (o.json) return printJson(ctx, 'tasks', list);
      if (list.length === 0) return ctx.out(o.state || o.cluster || o.owner || o.since ? 'no tasks match' : 'no tasks');
      const c = useColour(process.stdout);
      const rows = [['TASK', 'STATE', 'SUCCEEDED', 'FAILED', 'NAME', 'OWNER', 'ACTION', 'CLUSTER', 'EMITTED', 'BY']];
      for (const r of list) {
        rows.push([
          r.task_id,
          paintState(c, r.state, r.paused ? `${r.state} (paused)` : r.state),
          `${r.succeeded}/${r.total}`,
          r.dead + r.skipped > 0 ? paint(c, 'red', `${r.dead} dead, ${r.skipped} skipped`) : '-',
          r.name,
          r.owner ?? '-',
          r.action,
          r.cluster,
          r.emitted_at,
          r.emitted_by,
        ]);
      }
      ctx.out(table(rows, { rightAlign: [2] }));
    });
  });
}
