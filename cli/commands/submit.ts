// `taskerman submit <spec>`: enqueue a task spec file (YAML or JSON) as an ad-hoc run.
import { Command } from 'commander';
import { loadTaskSpecFile } from '../../core/task/task-spec.js';
import { commandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { submitSpec } from './run.js';
import { giveUpOption, parseGiveUp } from '../follow-options.js';

export function submitCommand(): Command {
  return withCommonOptions(
    new Command('submit')
      .description('validate a task spec file and enqueue it now')
      .argument('<spec>', 'a task spec, YAML or JSON')
      .option('--wait', 'follow the task and exit 0 only if every node succeeded')
      .addOption(giveUpOption())
      .option('--json', 'print JSON'),
  ).action(async (file: string, o: { wait?: boolean; json?: boolean; giveUpAfter: string }, cmd: Command) => {
    const ctx = commandContext(cmd);
    const spec = await loadTaskSpecFile(file);
    await submitSpec(ctx, spec, { wait: Boolean(o.wait), json: Boolean(o.json), giveUpMs: parseGiveUp(o.giveUpAfter), command: 'submit', file });
  });
}
