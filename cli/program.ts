// The `taskerman` program: one file per subcommand under cli/commands, composed here; errors become exit
// codes in one place (handle-error.ts).
import { Command, CommanderError } from 'commander';
import { cancelCommand, pauseCommand, resumeCommand } from './commands/control.js';
import { auditCommand } from './commands/audit.js';
import { uiCommand } from './commands/ui.js';
import { devCommand } from './commands/dev.js';
import { dlqCommand } from './commands/dlq.js';
import { gcCommand } from './commands/gc.js';
import { planCommand } from './commands/plan.js';
import { schedulerCommand } from './commands/scheduler.js';
import { schemaCommand } from './commands/schema.js';
import { routerCommand } from './commands/router.js';
import { runCommand } from './commands/run.js';
import { runnerCommand } from './commands/runner.js';
import { statusCommand } from './commands/status.js';
import { submitCommand } from './commands/submit.js';
import { tasksCommand } from './commands/tasks.js';
import { validateCommand } from './commands/validate.js';
import { EXIT, exitCodeFor, formatError } from './handle-error.js';

export function buildProgram(): Command {
  const program = new Command('taskerman')
    .description('pull-based maintenance task runner for fleets of stateful clusters')
    .version('0.1.0')
    .showSuggestionAfterError()
    .exitOverride()
    .addHelpText('after', '\nExit codes: 0 success, 1 the task failed, 2 bad usage or invalid spec, 3 ZooKeeper/SQS unreachable.');
  for (const c of [
    runCommand(),
    submitCommand(),
    planCommand(),
    statusCommand(),
    tasksCommand(),
    cancelCommand(),
    pauseCommand(),
    resumeCommand(),
    dlqCommand(),
    validateCommand(),
    schemaCommand(),
    gcCommand(),
    auditCommand(),
    uiCommand(),
    schedulerCommand(),
    routerCommand(),
    runnerCommand(),
    devCommand(),
  ]) {
    for (const sub of c.commands) sub.exitOverride();
    program.addCommand(c.exitOverride());
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message (or the help / version).
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const msg = formatError(err);
    if (msg) process.stderr.write(`${msg}\n`);
    return exitCodeFor(err);
  }
}
