// The `taskerman` program: one file per subcommand under cli/commands, composed here; errors become exit
// codes in one place (handle-error.ts).
//
// Commands are loaded lazily: the top level knows each command only by its name and one-line summary, and
// imports a command's module (and with it ZooKeeper, SQS, zod, the actions...) only when that command runs.
// `--version` and `--help` load nothing but commander. Adding a command is one line in COMMANDS.
import { Command, CommanderError } from 'commander';
import { EXIT, exitCodeFor, formatError } from './handle-error.js';

export const VERSION = '0.1.0';

export interface LazyCommand {
  name: string;
  /** The top-level `--help` line; must equal the command's own description (a unit test checks it). */
  summary: string;
  load: () => Promise<Command>;
}

const lazy = (name: string, summary: string, load: () => Promise<Command>): LazyCommand => ({ name, summary, load });

/** Every command, in `--help` order: one line each. */
export const COMMANDS: readonly LazyCommand[] = [
  lazy('run', 'run an action on a cluster now (an ad-hoc task)', async () => (await import('./commands/run.js')).runCommand()),
  lazy('submit', 'validate a task spec file and enqueue it now', async () => (await import('./commands/submit.js')).submitCommand()),
  lazy('plan', 'show what a spec would do (targets, limit, failure budget, live runners, held slots) without enqueuing it', async () => (await import('./commands/plan.js')).planCommand()),
  lazy('status', "show a task's state and each node's state, attempts, start and end times", async () => (await import('./commands/status.js')).statusCommand()),
  lazy('tasks', 'list the most recently emitted tasks, newest first', async () => (await import('./commands/tasks.js')).tasksCommand()),
  lazy('cancel', 'cancel a task: no further node starts, actions in flight are aborted, the task ends cancelled', async () => (await import('./commands/control.js')).cancelCommand()),
  lazy('pause', 'stop admission: no further node of the task starts until resume; nodes in flight finish', async () => (await import('./commands/control.js')).pauseCommand()),
  lazy('resume', 'resume a paused task, or a halted one (its skipped nodes are queued again; the failure budget starts afresh)', async () => (await import('./commands/control.js')).resumeCommand()),
  lazy('dlq', 'inspect and redrive the dead-letter queues', async () => (await import('./commands/dlq.js')).dlqCommand()),
  lazy('validate', 'validate task spec files (a directory: every .yaml/.yml/.json in it); exit 2 listing every problem', async () => (await import('./commands/validate.js')).validateCommand()),
  lazy('schema', 'print the JSON Schema of a task spec file, for editors (e.g. > taskerman-spec.schema.json)', async () => (await import('./commands/schema.js')).schemaCommand()),
  lazy('gc', 'remove tasks that ended (succeeded, failed, cancelled, halted) longer ago than --older-than', async () => (await import('./commands/gc.js')).gcCommand()),
  lazy('scheduler', 'fire the task specs of a folder on their cron schedule (leader-elected: run as many replicas as you like)', async () => (await import('./commands/scheduler.js')).schedulerCommand()),
  lazy('router', 'consume the global queue and fan tasks out to the cluster and node queues', async () => (await import('./commands/router.js')).routerCommand()),
  lazy('runner', "pull and run this node's work: lease a slot, pre_check, execute, post_check", async () => (await import('./commands/runner.js')).runnerCommand()),
  lazy('dev', 'run everything in one process on in-memory backends with simulated nodes (nothing to install)', async () => (await import('./commands/dev.js')).devCommand()),
];

/** The command that `argv` runs (`taskerman <cmd> ...` or `taskerman help <cmd>`), if it names one. */
export function invokedCommand(argv: readonly string[], commands: readonly LazyCommand[] = COMMANDS): LazyCommand | undefined {
  const args = argv.slice(2);
  const name = args[0] === 'help' ? args[1] : args[0];
  return commands.find((c) => c.name === name);
}

/**
 * The program for `argv`: the invoked command fully built, every other one as a placeholder that only
 * carries its name and summary (enough for `--help`, the "did you mean" suggestion and `help <cmd>`).
 */
export async function buildProgram(argv: readonly string[] = process.argv, commands: readonly LazyCommand[] = COMMANDS): Promise<Command> {
  const program = new Command('taskerman')
    .description('pull-based maintenance task runner for fleets of stateful clusters')
    .version(VERSION)
    .showSuggestionAfterError()
    .exitOverride()
    .addHelpText('after', '\nExit codes: 0 success, 1 the task failed, 2 bad usage or invalid spec, 3 ZooKeeper/SQS unreachable.');
  const wanted = invokedCommand(argv, commands);
  for (const entry of commands) {
    const c = entry === wanted ? await entry.load() : new Command(entry.name).description(entry.summary);
    for (const sub of c.commands) sub.exitOverride();
    program.addCommand(c.exitOverride());
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
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
