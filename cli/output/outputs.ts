// One zod schema per command's --json output: the code that prints an output is type-checked against it
// (`printJson`), `taskerman schema --output <name>` prints it as JSON Schema, and the tests validate every
// command's real output against that JSON Schema. A new command (budget, policy show, hold, audit, ...) adds
// its schema here and prints with `printJson(ctx, '<name>', value)`.
import { z } from 'zod';
import { actorAtOrNull, durationMs, isoTime, isoTimeOrNull, nodeCounts, nodeState, taskState } from './json-shapes.js';

const attempt = z.strictObject({
  attempt: z.number().int().min(1),
  started_at: isoTime,
  ended_at: isoTimeOrNull,
  duration_ms: durationMs.nullable().describe('null while the attempt runs'),
  error: z.string().nullable(),
  counted: z.boolean().describe('false when the attempt did not count against the retry budget (grant lost, runner died)'),
  interrupted: z.boolean().describe('the runner died during this attempt'),
  fencing_token: z.number().int().nullable(),
});

const statusNode = z.strictObject({
  node: z.string(),
  state: nodeState,
  attempts: z.number().int().min(0),
  started_at: isoTimeOrNull,
  ended_at: isoTimeOrNull,
  duration_ms: durationMs.nullable().describe("the last attempt's duration, or so far while it runs"),
  error: z.string().nullable(),
  reason: z.string().nullable(),
  history: z.array(attempt),
});

const task = z.strictObject({
  task_id: z.string(),
  name: z.string(),
  owner: z.string().nullable(),
  description: z.string().nullable(),
  state: taskState,
  reason: z.string().nullable(),
  action: z.string(),
  cluster: z.string(),
  limit: z.number().int().min(1),
  max_failures: z.number().int().min(1),
  emitted_by: z.string(),
  emitted_at: isoTime,
  routed_at: isoTimeOrNull,
  ended_at: isoTimeOrNull,
  duration_ms: durationMs.nullable().describe('from emission to the end, or so far'),
  paused: actorAtOrNull.describe('set while admission is stopped by `taskerman pause`'),
  cancelled: actorAtOrNull.describe('the tombstone of a cancelled task'),
  resuming: actorAtOrNull.describe('set while `taskerman resume` queues a halted task again'),
  resumed_at: isoTimeOrNull,
  counts: nodeCounts,
  total: z.number().int().min(0),
});

const status = task.extend({
  failures: z.array(z.strictObject({ reason: z.string(), nodes: z.array(z.string()) })).describe('DEAD and FAILED nodes grouped by their error'),
  nodes: z.array(statusNode),
});

const taskRow = z.strictObject({
  task_id: z.string(),
  name: z.string(),
  owner: z.string().nullable(),
  description: z.string().nullable(),
  state: taskState,
  reason: z.string().nullable(),
  paused: actorAtOrNull,
  action: z.string(),
  cluster: z.string(),
  emitted_by: z.string(),
  emitted_at: isoTime,
  ended_at: isoTimeOrNull,
  succeeded: z.number().int().min(0),
  dead: z.number().int().min(0),
  skipped: z.number().int().min(0),
  done: z.number().int().min(0).describe('nodes in a terminal state: succeeded + dead + skipped'),
  total: z.number().int().min(0),
});

const deadLetter = z.strictObject({
  queue: z.string(),
  id: z.string(),
  code: z.string(),
  reason: z.string(),
  source: z.string().nullable(),
  task_id: z.string().nullable(),
  node: z.string().nullable(),
  attempts: z.number().int().nullable(),
  dead_at: isoTimeOrNull,
  body: z.string(),
});

const planBudget = z.strictObject({
  budget: z.number().int().nullable().describe("the cluster policy's budget in nodes; null: no policy, the tasks' limits alone"),
  zone_budget: z.number().int().nullable(),
  health_check: z.string().nullable(),
  disrupted: z.array(z.string()).describe('nodes disrupted now: granted to any task or hold, or known without a live runner'),
  grants: z.array(z.strictObject({ node: z.string(), task_id: z.string().nullable(), kind: z.enum(['task', 'hold']), dead: z.boolean() })),
  waiting: z.number().int(),
  headroom: z.number().int().describe('how many nodes of this task could start now'),
});

const problem = z.strictObject({ file: z.string().nullable(), field: z.string(), message: z.string() });

export const OUTPUTS = {
  error: z.strictObject({
    error: z.strictObject({
      code: z.string(),
      message: z.string(),
      hint: z.string().nullable(),
      exit_code: z.number().int(),
      problems: z.array(problem),
    }),
  }),
  run: z.strictObject({ task_id: z.string() }).describe('run / submit without --wait (with --wait: the status output)'),
  status,
  tasks: z.array(taskRow),
  plan: z.strictObject({
    cluster: z.string(),
    action: z.string(),
    discovery: z.string(),
    targets: z.array(z.string()),
    limit: z.number().int(),
    max_failures: z.number().int(),
    live: z.array(z.string()),
    not_live: z.array(z.string()),
    budget: planBudget,
  }),
  'dlq-list': z.array(deadLetter),
  'dlq-show': deadLetter,
  'dlq-redrive': z.array(z.strictObject({ id: z.string(), source: z.string(), task_id: z.string().nullable(), node: z.string().nullable() })),
  control: z.strictObject({
    task_id: z.string(),
    state: taskState,
    paused: actorAtOrNull,
    cancelled: actorAtOrNull,
    requeued: z.array(z.string()),
  }).describe('cancel, pause and resume'),
  gc: z.strictObject({ removed: z.array(z.string()), kept: z.number().int().min(0), audit_days_removed: z.array(z.string()).describe('days (YYYY-MM-DD) of the audit trail removed') }),
  validate: z.strictObject({ valid: z.array(z.string()), policies: z.array(z.strictObject({ file: z.string(), cluster: z.string() })), problems: z.array(problem) }),
} as const;

export type OutputName = keyof typeof OUTPUTS;
export type OutputOf<K extends OutputName> = z.input<(typeof OUTPUTS)[K]>;
export const OUTPUT_NAMES = Object.keys(OUTPUTS) as OutputName[];

/** The JSON Schema (draft 2020-12) of one command's --json output. */
export function outputJsonSchema(name: OutputName): Record<string, unknown> {
  const schema = z.toJSONSchema(OUTPUTS[name], { target: 'draft-2020-12' }) as Record<string, unknown>;
  return { $schema: schema.$schema, title: `taskerman ${name} --json`, ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')) };
}
