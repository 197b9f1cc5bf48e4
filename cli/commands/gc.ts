// `taskerman gc --older-than 1d`: remove finished tasks from ZooKeeper now (routers also do it in the
// background after --retention).
import { Command } from 'commander';
import { collectGarbage } from '../../core/task/cleaner.js';
import { parseDuration } from '../../core/duration.js';
import { OptionError } from '../../core/errors.js';
import { commandContext, withBackends } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { printJson } from '../output/print.js';
import { audited } from '../audit-trail.js';
import { pruneAudit } from '../../core/audit/audit-log.js';

export function gcCommand(): Command {
  return withCommonOptions(
    new Command('gc')
      .description('remove tasks that ended (succeeded, failed, cancelled, halted) longer ago than --older-than')
      .option('--older-than <duration>', 'e.g. 1d, 12h', '7d')
      .option('--audit-older-than <duration>', 'also remove audit trail days older than this', '90d')
      .option('--json', 'print JSON'),
  ).action(async (o: { olderThan: string; auditOlderThan: string; json?: boolean }, cmd: Command) => {
    const ms = parseDuration(o.olderThan);
    if (ms === undefined) throw new OptionError('older-than', `"${o.olderThan}" must be a duration like 1d or 12h`);
    const auditMs = parseDuration(o.auditOlderThan);
    if (auditMs === undefined) throw new OptionError('audit-older-than', `"${o.auditOlderThan}" must be a duration like 90d`);
    const ctx = commandContext(cmd);
    await withBackends(ctx, async (b) => {
      const { r, days } = await audited(
        ctx,
        { command: 'gc', args: { older_than_ms: ms, audit_older_than_ms: auditMs } },
        async () => ({ r: await collectGarbage(b.store, ms), days: await pruneAudit(b.store.coordinator, ctx.cfg.zkRoot, auditMs) }),
        b.store.coordinator,
      );
      if (o.json) printJson(ctx, 'gc', { removed: r.removed, kept: r.kept, audit_days_removed: days });
      else ctx.out(`removed ${r.removed.length} task(s), kept ${r.kept}; ${days.length} audit day(s) removed`);
    });
  });
}
