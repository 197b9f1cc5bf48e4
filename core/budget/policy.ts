// A cluster's disruption policy, kept in git (`policies/<cluster>.yaml`) and applied to ZooKeeper with
// `taskerman policy apply`: how many nodes of the cluster may be disrupted at once by every task and hold
// together, per zone, and which health check gates admission. Validated here, once, with errors that name the
// file, the field and the fix; compiled into a required shape (durations in ms).
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseYaml } from '../yaml.js';
import { z } from 'zod';
import { parseDuration } from '../duration.js';
import { SpecError, type Issue } from '../errors.js';

/** A budget is a number of nodes, or a percentage of the cluster's known nodes (rounded down, at least 1). */
export type BudgetLimit = { kind: 'count'; value: number } | { kind: 'percent'; value: number };

export interface HealthGate {
  /** The name of a check in the runner's local config (`checks:`): nothing that runs comes from ZooKeeper. */
  check: string;
  timeoutMs: number;
  /** While the gate is closed, the check runs again this often; admission resumes by itself when it passes. */
  intervalMs: number;
}

export interface ClusterPolicy {
  cluster: string;
  budget: BudgetLimit | undefined;
  zoneBudget: number | undefined;
  health: HealthGate | undefined;
  /** A granted node whose runner has been gone this long is flagged loudly (it keeps its grant). */
  returnGraceMs: number;
  /** Waiting this long lifts a request one priority level (low → normal → high): nothing waits forever. */
  ageingMs: number;
}

export const DEFAULT_RETURN_GRACE_MS = 15 * 60_000;
export const DEFAULT_AGEING_MS = 5 * 60_000;

const CLUSTER_RE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/;
const CHECK_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const PERCENT_RE = /^(\d{1,3}(?:\.\d+)?)%$/;

const budgetField = z.union([z.number(), z.string()], { error: 'must be a number of nodes like 2, or a percentage like "10%"' }).transform((v, ctx): BudgetLimit => {
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 1) return { kind: 'count', value: v };
    ctx.addIssue({ code: 'custom', message: `${v} is not a whole number of nodes of 1 or more (a budget of 0 would block every task: use \`taskerman pause\` instead)` });
    return z.NEVER;
  }
  const m = PERCENT_RE.exec(v.trim());
  const pct = m ? Number(m[1]) : NaN;
  if (pct > 0 && pct <= 100) return { kind: 'percent', value: pct };
  ctx.addIssue({ code: 'custom', message: m ? `"${v}" is out of range: a percentage of the cluster's nodes is above 0% and at most 100%` : `"${v}" is neither a number of nodes (2) nor a percentage ("10%")` });
  return z.NEVER;
});

const durationField = (example: string) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `must be a duration like "${example}" (ms, s, m, h, d)` });
      return z.NEVER;
    }
    return ms;
  });

export const policySchema = z.strictObject(
  {
    cluster: z.string({ error: 'is required: the cluster name, like "cassandra:geo_counter"' }).regex(CLUSTER_RE, 'must be 1-200 characters of letters, digits, ".", "_", ":", "@" or "-"'),
    budget: budgetField.optional(),
    zone_budget: z.number({ error: 'must be a whole number of nodes per zone, like 1' }).int('must be a whole number of nodes per zone, like 1').min(1, 'must be 1 or more').optional(),
    health: z
      .strictObject(
        {
          check: z.string({ error: 'is required: the name of a check in the runners\' config (checks:), like "ring-healthy"' }).regex(CHECK_RE, 'must be a check name of letters, digits, ".", "_" or "-"'),
          timeout: durationField('30s').default(30_000),
          interval: durationField('10s').default(10_000),
        },
        { error: 'must be a map like { check: ring-healthy, timeout: 30s }' },
      )
      .optional(),
    return_grace: durationField('15m').default(DEFAULT_RETURN_GRACE_MS),
    ageing: durationField('5m').default(DEFAULT_AGEING_MS),
  },
  { error: 'must be a map of fields (cluster, budget, zone_budget, health, return_grace)' },
);

export type PolicyInput = z.input<typeof policySchema>;

function fieldOf(path: PropertyKey[]): string {
  return path.map(String).join('.');
}

/** Validate an already-parsed object; throws SpecError listing every problem. */
export function parsePolicy(input: unknown, file?: string): ClusterPolicy {
  const r = policySchema.safeParse(input);
  if (!r.success) {
    throw new SpecError(
      r.error.issues.map((i): Issue => ({
        file,
        field: fieldOf(i.path) || '(policy)',
        message: i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}: a policy has cluster, budget, zone_budget, health, return_grace, ageing` : i.message,
      })),
    );
  }
  const p = r.data;
  return {
    cluster: p.cluster,
    budget: p.budget,
    zoneBudget: p.zone_budget,
    health: p.health ? { check: p.health.check, timeoutMs: p.health.timeout, intervalMs: p.health.interval } : undefined,
    returnGraceMs: p.return_grace,
    ageingMs: p.ageing,
  };
}

/** The inverse of parsePolicy, as stored in ZooKeeper and printed by `policy show --json`. */
export function policyToWire(p: ClusterPolicy): PolicyInput {
  return {
    cluster: p.cluster,
    ...(p.budget ? { budget: p.budget.kind === 'count' ? p.budget.value : `${p.budget.value}%` } : {}),
    ...(p.zoneBudget !== undefined ? { zone_budget: p.zoneBudget } : {}),
    ...(p.health ? { health: { check: p.health.check, timeout: `${p.health.timeoutMs}ms`, interval: `${p.health.intervalMs}ms` } } : {}),
    return_grace: `${p.returnGraceMs}ms`,
    ageing: `${p.ageingMs}ms`,
  };
}

export function parsePolicyText(text: string, file: string): ClusterPolicy {
  let data: unknown;
  try {
    data = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new SpecError([{ file, field: '(file)', message: `is not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}` }]);
  }
  return parsePolicy(data, file);
}

export async function loadPolicyFile(file: string): Promise<ClusterPolicy> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SpecError([{ file, field: '(file)', message: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }], { cause: err });
  }
  return parsePolicyText(text, file);
}

/** A file is a policy (not a task spec) when it has a top-level `budget`, `zone_budget` or `health`, and no `action`. */
export function looksLikePolicy(data: unknown): boolean {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return false;
  const o = data as Record<string, unknown>;
  return !('action' in o) && ('budget' in o || 'zone_budget' in o || 'health' in o || 'return_grace' in o);
}

/** The budget as a number of nodes, given the cluster's known node count: percentages round down, at least 1. */
export function resolveBudget(b: BudgetLimit, knownNodes: number): number {
  return b.kind === 'count' ? b.value : Math.max(1, Math.floor((b.value * knownNodes) / 100));
}
