// `taskerman schema`: the JSON Schema of a task spec file, for editors (e.g. the YAML language server:
// `# yaml-language-server: $schema=./taskerman-spec.schema.json`). Generated from the one zod schema the
// validator uses (`core/task/task-spec.ts`), as its *input* side: what may be written in a file, before the
// transforms (so `limit` is a number or a string, `timeout` a duration string or seconds). The fields that
// a transform validates get their accepted forms spelled out, and every field a description.
import { Command, Option } from 'commander';
import { z } from 'zod';
import { taskSpecSchema } from '../../core/task/task-spec.js';
import { OUTPUT_NAMES, outputJsonSchema, type OutputName } from '../output/outputs.js';

type JsonSchema = Record<string, unknown>;

const LIMIT_FORMS: JsonSchema = {
  anyOf: [
    { type: 'integer', minimum: 1 },
    { type: 'string', pattern: '^\\s*(\\d+|\\d{1,3}(\\.\\d+)?%)\\s*$', description: 'a number of nodes ("2") or a percentage of the targets ("10%")' },
  ],
};
const DURATION_FORMS = (example: string): JsonSchema => ({
  anyOf: [
    { type: 'number', minimum: 0, description: 'seconds' },
    { type: 'string', pattern: '^\\s*(\\d+(\\.\\d+)?|(\\d+(\\.\\d+)?(ms|s|m|h|d))+)\\s*$', description: `a duration like "${example}" (ms, s, m, h, d) or a number of seconds` },
  ],
});

/** Replaces the bare `number | string` of transformed fields with the forms the transform accepts. */
const FORMS: Record<string, JsonSchema> = {
  limit: LIMIT_FORMS,
  max_failures: LIMIT_FORMS,
  timeout: DURATION_FORMS('30m'),
};

const DESCRIPTIONS: Record<string, string> = {
  name: 'Unique name of the spec: letters, digits, ".", "_", "-". Scheduled tasks get the id <name>-<fire time>.',
  action: 'A registered action: noop, sleep, exec (the runner looks up exec commands in its local allowlist).',
  version: "The action's contract version.",
  cluster: 'The cluster to act on, e.g. "cassandra:geo_counter".',
  discovery: 'How targets are found: static (an inventory file), members (live runners), explicit (implied by nodes/destnode), aws_tags (not yet).',
  inventory: "With discovery static: the inventory file (YAML), relative to the router's --inventory-root.",
  limit: 'At most this many nodes at a time: a number, or a percentage of the targets ("10%", rounded down, at least 1). Default 1.',
  max_failures: 'Halt the rollout after this many DEAD nodes: a number or a percentage. Default 1.',
  owner: 'The team that owns this task.',
  description: 'What the task is for.',
  schedule: 'For the scheduler: a cron expression, 5 fields "minute hour day-of-month month day-of-week" or 6 with seconds first, e.g. "0 3 * * 2".',
  timezone: 'Time zone of the schedule, an IANA name like "UTC" or "Europe/Paris". Default UTC.',
  window: 'Maintenance window: outside it no new node starts (nodes in flight finish). { days: [tue], start: "02:00", end: "05:00", timezone: UTC }; an end before the start runs past midnight.',
  catchup: 'For the scheduler: a fire time missed while no scheduler was up is skipped (none, default) or the latest one is fired at start (once).',
  args: "The action's arguments, validated against its own schema.",
  retry: 'Retries per node after the first attempt, with exponential backoff and jitter.',
  timeout: 'Per node attempt, pre_check to post_check: a duration like "30m", or seconds; at most 7d (Node timers overflow past 24.8 days). Default 30m.',
  nodes: 'Explicit targets (skip discovery).',
  destnode: 'Exactly one explicit target.',
};

/** The JSON Schema (draft 2020-12) of a task spec file. */
export function taskSpecJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(taskSpecSchema, { io: 'input' }) as JsonSchema;
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  for (const [key, prop] of Object.entries(props)) {
    const forms = FORMS[key];
    if (forms && Array.isArray(prop.type)) {
      delete prop.type;
      Object.assign(prop, forms);
    }
    // zod's bound for .int() without .max(): Number.MAX_SAFE_INTEGER says nothing to a reader.
    if (prop.maximum === Number.MAX_SAFE_INTEGER) delete prop.maximum;
    const description = DESCRIPTIONS[key];
    if (description && prop.description === undefined) prop.description = description;
  }
  const retry = (props.retry?.properties ?? {}) as Record<string, JsonSchema>;
  if (retry.backoff && Array.isArray(retry.backoff.type)) {
    delete retry.backoff.type;
    Object.assign(retry.backoff, DURATION_FORMS('60s'), { description: 'Base of the exponential backoff between attempts. Default 30s.' });
  }
  if (retry.count) retry.count.description = 'Retries after the first attempt (0-100). Default 0.';
  return {
    $schema: schema.$schema,
    title: 'Taskerman task spec',
    description: 'A maintenance task as kept in git (YAML or JSON). Unknown fields are errors. `taskerman validate` checks the rest (action arguments, unique names).',
    ...Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$schema')),
  };
}

export function schemaCommand(): Command {
  return new Command('schema')
    .description('print the JSON Schema of a task spec file (for editors), or with --output of a command\'s --json output')
    .addOption(new Option('--output <command>', "the schema of this command's --json output instead").choices(OUTPUT_NAMES))
    .option('--list', 'list the outputs that have a schema')
    .action((o: { output?: OutputName; list?: boolean }) => {
      if (o.list) {
        process.stdout.write(`${OUTPUT_NAMES.join('\n')}\n`);
        return;
      }
      const schema = o.output ? outputJsonSchema(o.output) : taskSpecJsonSchema();
      process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
    });
}
