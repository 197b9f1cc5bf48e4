// The audit trail: every operator action (run, submit, cancel, pause, resume, dlq redrive/purge, hold,
// release, policy apply, gc) recorded with who, when, from where and what, and how it ended.
//
//   <root>/audit/<yyyymmdd>/e-NNNNNNNNNN    persistent sequential, one JSON entry each (UTC day buckets)
//
// Day buckets keep every listing small (a day of human actions) and make retention cheap: whole days older
// than the retention are removed (`pruneAudit`, run by routers and by `gc`). `recordAudit` is the one
// function commands call; it never throws for a bad entry (fields are bounded here), only for ZooKeeper.
import { hostname } from 'node:os';
import { fromJsonBuffer, joinPath, toJsonBuffer, type Coordinator } from '../coordination/coordinator.js';
import { mapLimit } from '../pool.js';

export const AUDIT_COMMANDS = ['run', 'submit', 'cancel', 'pause', 'resume', 'dlq redrive', 'dlq purge', 'hold', 'release', 'policy apply', 'gc'] as const;
export type AuditCommand = (typeof AUDIT_COMMANDS)[number];

export interface AuditEntry {
  /** ISO-8601 with milliseconds. */
  at: string;
  user: string;
  host: string;
  command: AuditCommand;
  cluster?: string;
  taskId?: string;
  node?: string;
  /** What was asked: the options that matter, small values only. */
  args: Record<string, unknown>;
  outcome: 'ok' | 'failed';
  /** One line, when it failed. */
  error?: string;
}

export interface AuditInput {
  command: AuditCommand;
  user: string;
  cluster?: string;
  taskId?: string;
  node?: string;
  args?: Record<string, unknown>;
  outcome?: 'ok' | 'failed';
  error?: string;
  /** Default os.hostname(). */
  host?: string;
  /** Default now. */
  at?: Date;
}

const MAX_ARGS_BYTES = 4096;

export const auditDir = (root: string): string => joinPath(root, 'audit');
const dayOf = (d: Date): string => d.toISOString().slice(0, 10).replace(/-/g, '');

/** Records one operator action. Returns the entry as written. */
export async function recordAudit(coordinator: Coordinator, root: string, input: AuditInput): Promise<AuditEntry> {
  const at = input.at ?? new Date();
  let args = input.args ?? {};
  if (Buffer.byteLength(JSON.stringify(args)) > MAX_ARGS_BYTES) args = { truncated: JSON.stringify(args).slice(0, MAX_ARGS_BYTES) };
  const entry: AuditEntry = {
    at: at.toISOString(),
    user: input.user,
    host: input.host ?? hostname(),
    command: input.command,
    ...(input.cluster ? { cluster: input.cluster } : {}),
    ...(input.taskId ? { taskId: input.taskId } : {}),
    ...(input.node ? { node: input.node } : {}),
    args,
    outcome: input.outcome ?? 'ok',
    ...(input.error ? { error: input.error.slice(0, 1000) } : {}),
  };
  const day = joinPath(auditDir(root), dayOf(at));
  await coordinator.mkdirp(day);
  await coordinator.create(joinPath(day, 'e-'), toJsonBuffer(entry), 'persistent_sequential');
  return entry;
}

export interface AuditQuery {
  /** Entries at or after this time. */
  since: Date;
  cluster?: string;
  user?: string;
  /** At most this many, the newest. Default 1000. */
  limit?: number;
}

/** Entries matching the query, oldest first. */
export async function listAudit(coordinator: Coordinator, root: string, q: AuditQuery): Promise<AuditEntry[]> {
  const firstDay = dayOf(q.since);
  const days = ((await coordinator.children(auditDir(root))) ?? []).filter((d) => /^\d{8}$/.test(d) && d >= firstDay).sort();
  const out: AuditEntry[] = [];
  for (const day of days) {
    const dir = joinPath(auditDir(root), day);
    const names = ((await coordinator.children(dir)) ?? []).sort();
    const read = await mapLimit(names, 16, async (n) => coordinator.get(joinPath(dir, n)));
    for (const d of read) {
      if (!d) continue;
      const e = fromJsonBuffer<AuditEntry>(d.data);
      if (Date.parse(e.at) < q.since.getTime()) continue;
      if (q.cluster && e.cluster !== q.cluster) continue;
      if (q.user && e.user !== q.user) continue;
      out.push(e);
    }
  }
  out.sort((a, b) => a.at.localeCompare(b.at));
  const limit = q.limit ?? 1000;
  return out.length > limit ? out.slice(out.length - limit) : out;
}

/** Removes the day buckets that ended more than `olderThanMs` ago. Returns the days removed. */
export async function pruneAudit(coordinator: Coordinator, root: string, olderThanMs: number, now = Date.now()): Promise<string[]> {
  const cutoffDay = dayOf(new Date(now - olderThanMs));
  const removed: string[] = [];
  for (const day of (await coordinator.children(auditDir(root))) ?? []) {
    if (!/^\d{8}$/.test(day) || day >= cutoffDay) continue;
    await coordinator.removeRecursive(joinPath(auditDir(root), day));
    removed.push(day);
  }
  return removed.sort();
}
