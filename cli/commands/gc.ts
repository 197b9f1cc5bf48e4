// `taskerman gc --older-than 1d`: remove finished tasks from ZooKeeper now (routers also do it in the
// background after --retention).
import { Command } from 'commander';
import { collectGarbage } from '../../core/task/cleaner.js';
import { parseDuration } from '../../core/duration.js';
import { OptionError } from '../../core/errors.js';
import { commandContext, withBackends } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { printJson } from '../output/print.js';

export function gcCommand(): Command {
  return withCommonOptions(
    new Command('gc')
      .description('remove tasks that ended (succeeded, failed, cancelled, halted) longer ago than --older-than')
      .option('--older-than <duration>', 'e.g. 1d, 12h', '7d')
      .option('--json', 'print JSON'),
  ).action(async (o: { olderThan: string; json?: boolean }, cmd: Command) => {
    const ms = parseDuration(o.olderThan);
    if (ms === undefined) throw new OptionError('older-than', `"${o.olderThan}" must be a duration like 1d or 12h`);
    const ctx = commandContext(cmd);
    await withBackends(ctx, async (b) => {
      const r = await collectGarbage(b.store, ms);
      if (o.json) printJson(ctx, 'gc', { removed: r.removed, kept: r.kept });
      else ctx.out(`removed ${r.removed.length} task(s), kept ${r.kept}`);
    });
  });
}
