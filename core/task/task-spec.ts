// The task spec: the schema operators write in git (YAML or JSON) and the CLI builds from flags.
// Validated in one place, with errors that name the file, the field and the fix; compiled into a
// fully-required shape (durations in ms, limits as numbers or percentages) that the rest of the code uses.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { createRequire } from 'node:module';
import { z } from 'zod';
import { didYouMean } from '../did-you-mean.js';
import { parseDuration } from '../duration.js';
import { SpecError, type Issue } from '../errors.js';
import { windowSchema, type MaintenanceWindow } from './window.js';
import { MAX_TARGETS } from './task-bounds.js';
import { parseYaml, yamlErrorLine } from '../yaml.js';

export const DISCOVERY_KINDS = ['aws_tags', 'static', 'members', 'explicit'] as const;
export type DiscoveryKind = (typeof DISCOVERY_KINDS)[number];

/** A limit is a number of nodes, or a percentage of the resolved targets (rounded down, at least 1). */
export type Limit = { kind: 'count'; value: number } | { kind: 'percent'; value: number };

export interface RetryPolicy {
  /** Retries after the first attempt: a node gets at most `count + 1` attempts. */
  count: number;
  /** Base of the exponential backoff between attempts, in ms. */
  backoffMs: number;
}

export interface TaskSpec {
  name: string;
  action: string;
  version: number;
  cluster: string;
  discovery: DiscoveryKind;
  limit: Limit;
  maxFailures: Limit;
  owner: string | undefined;
  description: string | undefined;
  schedule: string | undefined;
  timezone: string | undefined;
  /** Missed fires while no scheduler ran: skipped ('none'), or the latest one fired at start ('once'). */
  catchup: 'none' | 'once';
  /** Outside it no new node starts. */
  window: MaintenanceWindow | undefined;
  args: Record<string, unknown>;
  retry: RetryPolicy;
  timeoutMs: number;
  nodes: string[];
  destnode: string;
  inventory: string | undefined;
  /** Orders this task's waiting requests against other tasks' in the cluster's budget (ageing lifts low). */
  priority: Priority;
  /** While this task holds a grant, no other task of the cluster gets one; it waits for the others to drain. */
  exclusive: boolean;
}

export const PRIORITIES = ['high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const ACTION_RE = /^[a-z0-9][a-z0-9_-]*(:[a-z0-9][a-z0-9_-]*)?$/;
const NODE_RE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,252}$/;
const CLUSTER_RE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/;
const PERCENT_RE = /^(\d{1,3}(?:\.\d+)?)%$/;

const LIMIT_MSG = 'must be a positive integer or a percentage like "10%"';

const limitField = (msg: string) =>
  z.union([z.number(), z.string()], { error: msg }).transform((v, ctx): Limit => {
    if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= 1) return { kind: 'count', value: v };
    } else {
      const t = v.trim();
      if (/^\d+$/.test(t) && Number(t) >= 1) return { kind: 'count', value: Number(t) };
      const m = PERCENT_RE.exec(t);
      if (m && Number(m[1]) > 0 && Number(m[1]) <= 100) return { kind: 'percent', value: Number(m[1]) };
      // Say why a percentage was refused: it is a share of the targets, so it lies in (0, 100].
      if (m && Number(m[1]) > 100) {
        ctx.addIssue({ code: 'custom', message: `"${t}" is more than 100% of the targets: a percentage must be above 0% and at most 100% (or give a number of nodes like 2)` });
        return z.NEVER;
      }
      if (m) {
        ctx.addIssue({ code: 'custom', message: `"${t}" would allow no node at all: a percentage must be above 0% and at most 100%` });
        return z.NEVER;
      }
    }
    ctx.addIssue({ code: 'custom', message: msg });
    return z.NEVER;
  });

/**
 * The longest per-node `timeout`: Node's timers hold a signed 32-bit count of ms (about 24.8 days) and fire at
 * once beyond it, so every node would fail at once with a timeout. A week is far beyond any sane attempt.
 */
export const MAX_TIMEOUT_MS = 7 * 24 * 3600_000;
/** The longest retry backoff base, for the same reason (the backoff grows from it, capped below the timer limit). */
export const MAX_BACKOFF_MS = 24 * 3600_000;

const durationField = (example: string, max: { ms: number; text: string }) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a duration like "${example}" (ms, s, m, h, d) or a number of seconds` });
      return z.NEVER;
    }
    if (ms > max.ms) {
      ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is longer than the maximum of ${max.text}` });
      return z.NEVER;
    }
    return ms;
  });

/**
 * node-cron's own check, loaded the first time a spec has a schedule (an ad-hoc `run` never has one): its
 * CommonJS build, the same code and version the scheduler imports.
 */
function validateCron(expression: string): ReturnType<typeof import('node-cron').validateDetailed> {
  const cron = createRequire(import.meta.url)('node-cron') as typeof import('node-cron');
  return cron.validateDetailed(expression);
}

/** A cron expression exactly as node-cron (the scheduler) reads it: a CI gate with `validate` catches what the scheduler would refuse. */
const scheduleField = z.string({ error: 'must be a cron expression like "0 3 * * 2"' }).superRefine((v, ctx) => {
  const r = validateCron(v);
  if (r.valid) return;
  ctx.addIssue({
    code: 'custom',
    message: `"${v}" is not a cron expression: ${r.errors.map((e) => e.message.replace(/ is a invalid /, ' is an invalid ')).join('; ')}; use 5 fields "minute hour day-of-month month day-of-week" (or 6, seconds first), e.g. "0 3 * * 2" for Tuesdays at 03:00`,
  });
});

const retrySchema = z.strictObject({
  count: z.number({ error: 'must be a whole number of retries (0 or more)' }).int('must be a whole number of retries (0 or more)').min(0, 'must be 0 or more').max(100, 'must be at most 100').default(0),
  backoff: durationField('30s', { ms: MAX_BACKOFF_MS, text: '1d' }).default(30_000),
});

const argsSchema = z.record(z.string(), z.unknown(), { error: 'must be a map of argument names to values' });

/** The wire and file schema. Unknown keys are errors: a typo like `limt` must not silently mean "default". */
export const taskSpecSchema = z
  .strictObject({
    name: z.string({ error: 'is required: a short name like "geo-counter-weekly-restart"' }).regex(NAME_RE, 'must be 1-100 characters of letters, digits, ".", "_" or "-"'),
    action: z.string({ error: 'is required: a registered action like "sleep" or "cassandra:restart"' }).regex(ACTION_RE, 'must look like "restart" or "cassandra:restart" (lower case, digits, "_", "-")'),
    version: z.number({ error: "must be the action's contract version, a positive integer" }).int("must be the action's contract version, a positive integer").min(1, 'must be 1 or more').default(1),
    cluster: z.string({ error: 'is required: the cluster name, like "cassandra:geo_counter"' }).regex(CLUSTER_RE, 'must be 1-200 characters of letters, digits, ".", "_", ":", "@" or "-"'),
    discovery: z.enum(DISCOVERY_KINDS, { error: `must be one of ${DISCOVERY_KINDS.join(', ')}` }).optional(),
    limit: limitField(LIMIT_MSG).default({ kind: 'count', value: 1 }),
    max_failures: limitField(LIMIT_MSG).default({ kind: 'count', value: 1 }),
    owner: z.string().min(1, 'must not be empty').optional(),
    description: z.string().optional(),
    schedule: scheduleField.optional(),
    timezone: z.string().optional(),
    window: windowSchema.optional(),
    catchup: z.enum(['none', 'once'], { error: 'must be "none" (skip fires missed while no scheduler ran) or "once" (fire the latest missed one at start)' }).default('none'),
    args: argsSchema.default({}),
    retry: retrySchema.default({ count: 0, backoff: 30_000 }),
    timeout: durationField('30m', { ms: MAX_TIMEOUT_MS, text: '7d (Node timers cannot wait longer than 24.8 days; split longer work into steps)' }).default(30 * 60_000),
    nodes: z.array(z.string().regex(NODE_RE, 'must be a node name of letters, digits, ".", "_", ":", "@" or "-"'), { error: 'must be a list of node names' }).max(MAX_TARGETS, `must list at most ${MAX_TARGETS} nodes (a task targets one cluster; split it, or use discovery)`).default([]),
    destnode: z.union([z.literal(''), z.string().regex(NODE_RE, 'must be a node name of letters, digits, ".", "_", ":", "@" or "-"')]).default(''),
    inventory: z.string().min(1).optional(),
    priority: z.enum(PRIORITIES, { error: `must be one of ${PRIORITIES.join(', ')}` }).default('normal'),
    exclusive: z.boolean({ error: 'must be true or false' }).default(false),
  }, { error: 'must be a map of fields (name, action, cluster, ...)' })
  .superRefine((s, ctx) => {
    if (s.nodes.length > 0 && s.destnode) {
      ctx.addIssue({ code: 'custom', path: ['destnode'], message: 'cannot be used together with nodes: give either a list of nodes or exactly one destnode' });
    }
    // One pass with a set: every runner parses the spec of its task, and an indexOf per node made that
    // quadratic (a 1,000-node spec cost 500,000 comparisons per parse, a second of CPU per 500 runners).
    const seen = new Set<string>();
    const dup = s.nodes.find((n) => seen.size === seen.add(n).size);
    if (dup) ctx.addIssue({ code: 'custom', path: ['nodes'], message: `lists "${dup}" twice` });
    const explicit = s.nodes.length > 0 || s.destnode !== '';
    if (s.discovery === 'explicit' && !explicit) {
      ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'discovery "explicit" needs nodes (a list) or destnode (one node)' });
    }
    if (s.discovery && s.discovery !== 'explicit' && explicit) {
      ctx.addIssue({ code: 'custom', path: ['discovery'], message: `is "${s.discovery}" but nodes/destnode are given: drop one of them` });
    }
    if (!s.discovery && !explicit) {
      ctx.addIssue({ code: 'custom', path: ['discovery'], message: `is required when neither nodes nor destnode is given: one of ${DISCOVERY_KINDS.filter((d) => d !== 'explicit').join(', ')}` });
    }
    if (s.discovery === 'static' && !s.inventory) {
      ctx.addIssue({ code: 'custom', path: ['inventory'], message: 'is required with discovery "static": the path of an inventory file (YAML)' });
    }
    if (s.window && !isValidTimezone(s.window.timezone)) {
      ctx.addIssue({ code: 'custom', path: ['window', 'timezone'], message: `"${s.window.timezone}" is not an IANA time zone like "UTC" or "Europe/Paris"` });
    }
    if (s.timezone !== undefined && !isValidTimezone(s.timezone)) {
      ctx.addIssue({ code: 'custom', path: ['timezone'], message: `"${s.timezone}" is not an IANA time zone like "UTC" or "Europe/Paris"` });
    }
  });

export type TaskSpecInput = z.input<typeof taskSpecSchema>;

function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The field names a strict object of the spec accepts at `path` (top level, retry, window). */
function knownKeysAt(path: PropertyKey[]): string[] {
  const top = Object.keys(taskSpecSchema.shape);
  if (path.length === 0) return top;
  if (path[0] === 'retry') return ['count', 'backoff'];
  if (path[0] === 'window') return ['days', 'start', 'end', 'timezone'];
  return top;
}

function fieldOf(path: PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');
}

/** Validate an already-parsed object; throws SpecError listing every problem. */
export function parseTaskSpec(input: unknown, file?: string): TaskSpec {
  const r = taskSpecSchema.safeParse(input);
  if (!r.success) {
    const issues: Issue[] = r.error.issues.flatMap((i): Issue[] => {
      if (i.code !== 'unrecognized_keys') return [{ file, field: fieldOf(i.path) || '(spec)', message: i.message }];
      // One line per unknown field, with the field it most likely meant.
      const known = knownKeysAt(i.path);
      return i.keys.map((k) => {
        const near = didYouMean(k, known);
        return {
          file,
          field: fieldOf([...i.path, k]),
          message: `unknown field "${k}": ${near ? `did you mean \`${near}\`?` : `known fields: ${known.join(', ')}`}`,
        };
      });
    });
    throw new SpecError(issues);
  }
  const s = r.data;
  return {
    name: s.name,
    action: s.action,
    version: s.version,
    cluster: s.cluster,
    discovery: s.discovery ?? 'explicit',
    limit: s.limit,
    maxFailures: s.max_failures,
    owner: s.owner,
    description: s.description,
    schedule: s.schedule,
    timezone: s.timezone,
    catchup: s.catchup,
    window: s.window,
    args: s.args,
    retry: { count: s.retry.count, backoffMs: s.retry.backoff },
    timeoutMs: s.timeout,
    nodes: s.destnode ? [s.destnode] : s.nodes,
    destnode: s.destnode,
    inventory: s.inventory,
    priority: s.priority,
    exclusive: s.exclusive,
  };
}

function limitToWire(l: Limit): number | string {
  return l.kind === 'count' ? l.value : `${l.value}%`;
}

/** The inverse of parseTaskSpec: what goes into messages and records. parseTaskSpec(specToWire(s)) equals s. */
export function specToWire(s: TaskSpec): TaskSpecInput {
  const out: TaskSpecInput = {
    name: s.name,
    action: s.action,
    version: s.version,
    cluster: s.cluster,
    discovery: s.discovery,
    limit: limitToWire(s.limit),
    max_failures: limitToWire(s.maxFailures),
    args: s.args,
    retry: { count: s.retry.count, backoff: `${s.retry.backoffMs}ms` },
    timeout: `${s.timeoutMs}ms`,
    nodes: s.destnode ? [] : s.nodes,
    destnode: s.destnode,
  };
  if (s.owner !== undefined) out.owner = s.owner;
  if (s.description !== undefined) out.description = s.description;
  if (s.schedule !== undefined) out.schedule = s.schedule;
  if (s.timezone !== undefined) out.timezone = s.timezone;
  if (s.catchup !== 'none') out.catchup = s.catchup;
  if (s.window !== undefined) out.window = s.window;
  if (s.inventory !== undefined) out.inventory = s.inventory;
  if (s.priority !== 'normal') out.priority = s.priority;
  if (s.exclusive) out.exclusive = true;
  return out;
}

/** Resolve a limit against the number of targets: percentages round down, never below 1 nor above n. */
export function resolveLimit(l: Limit, targets: number): number {
  const n = l.kind === 'count' ? l.value : Math.floor((l.value * targets) / 100);
  return Math.max(1, Math.min(n, Math.max(targets, 1)));
}

/** Parse the text of a spec file (YAML, or JSON by extension); throws SpecError naming the file. */
export function parseTaskSpecText(text: string, file: string): TaskSpec {
  let data: unknown;
  try {
    data = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text, { prettyErrors: true });
  } catch (err) {
    const line = yamlErrorLine(err);
    const where = line !== undefined ? ` (line ${line})` : '';
    throw new SpecError([{ file, field: '(file)', message: `is not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}${where}: ${(err as Error).message.split('\n')[0]}` }]);
  }
  return parseTaskSpec(data, file);
}

export async function loadTaskSpecFile(file: string): Promise<TaskSpec> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SpecError([{ file, field: '(file)', message: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }], { cause: err });
  }
  return parseTaskSpecText(text, file);
}

export const SPEC_EXTENSIONS = ['.yaml', '.yml', '.json'];
