// `taskerman audit [--since 1d] [--cluster C] [--user U] [--json]`: the operator actions recorded in the
// audit trail, oldest first: when, who, from where, what, and how it ended.
import { Command } from 'commander';
import { listAudit, type AuditEntry } from '../../core/audit/audit-log.js';
import { parseDuration } from '../../core/duration.js';
import { OptionError } from '../../core/errors.js';
import { commandContext, withBackends } from '../command-context.js';
import { withCommonOptions } from '../config.js';

export function auditJson(e: AuditEntry): Record<string, unknown> {
  return {
    at: e.at,
    user: e.user,
    host: e.host,
    command: e.command,
    cluster: e.cluster ?? null,
    task_id: e.taskId ?? null,
    node: e.node ?? null,
    args: e.args,
    outcome: e.outcome,
    ...(e.error ? { error: e.error } : {}),
  };
}

function auditLine(e: AuditEntry): string {
  const target = [e.cluster, e.taskId, e.node].filter(Boolean).join(' ');
  return `${e.at}  ${e.user}@${e.host}  ${e.command}${target ? `  ${target}` : ''}  ${e.outcome}${e.error ? `: ${e.error}` : ''}`;
}

export function auditCommand(): Command {
  return withCommonOptions(
    new Command('audit')
      .description('list the recorded operator actions (run, submit, cancel, pause, resume, dlq redrive/purge, hold, release, policy apply, gc)')
      .option('--since <duration>', 'how far back, e.g. 1h, 1d, 30d', '1d')
      .option('--cluster <name>', 'only actions on this cluster')
      .option('--user <name>', 'only actions by this user')
      .option('--limit <n>', 'at most this many, the newest', '1000')
      .option('--json', 'print JSON (one array)'),
  ).action(async (o: { since: string; cluster?: string; user?: string; limit: string; json?: boolean }, cmd: Command) => {
    const sinceMs = parseDuration(o.since);
    if (sinceMs === undefined) throw new OptionError('since', `"${o.since}" must be a duration like 1d or 12h`);
    const limit = Number(o.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new OptionError('limit', `"${o.limit}" must be a whole number, 1 or more`);
    const ctx = commandContext(cmd);
    await withBackends(ctx, async (b) => {
      const entries = await listAudit(b.store.coordinator, ctx.cfg.zkRoot, {
        since: new Date(Date.now() - sinceMs),
        limit,
        ...(o.cluster ? { cluster: o.cluster } : {}),
        ...(o.user ? { user: o.user } : {}),
      });
      if (o.json) return ctx.out(JSON.stringify(entries.map(auditJson), null, 2));
      if (entries.length === 0) return ctx.out(`no operator action recorded in the last ${o.since}`);
      for (const e of entries) ctx.out(auditLine(e));
    });
  });
}
