// The `taskerman` program: one file per subcommand under cli/commands, composed here; errors become exit
// codes in one place (handle-error.ts).
//
// Commands are loaded lazily: the top level knows each command only by its name and one-line summary, and
// imports a command's module (and with it ZooKeeper, SQS, zod, the actions...) only when that command runs.
// `--version` and `--help` load nothing but commander. Adding a command is one line in COMMANDS.
import { Command } from 'commander';
import { EXIT, EXIT_CODES_HELP, reportFailure } from './handle-error.js';

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
  lazy('run', "run an action on a cluster now (an ad-hoc task)", async () => (await import('./commands/run.js')).runCommand()),
  lazy('submit', "validate a task spec file and enqueue it now", async () => (await import('./commands/submit.js')).submitCommand()),
  lazy('plan', "show what a spec would do (targets, limit, failure budget, live runners, the cluster budget) without enqueuing it", async () => (await import('./commands/plan.js')).planCommand()),
  lazy('status', "show a task (name, owner, state) and its nodes' states, attempts and durations; a summary first for big tasks", async () => (await import('./commands/status.js')).statusCommand()),
  lazy('tasks', "list the most recently emitted tasks, newest first, with their progress", async () => (await import('./commands/tasks.js')).tasksCommand()),
  lazy('cancel', "cancel a task: no further node starts, actions in flight are aborted, the task ends cancelled", async () => (await import('./commands/control.js')).cancelCommand()),
  lazy('pause', "stop admission: no further node of the task starts until resume; nodes in flight finish", async () => (await import('./commands/control.js')).pauseCommand()),
  lazy('resume', "resume a paused task, or a halted one (its skipped nodes are queued again; the failure budget starts afresh)", async () => (await import('./commands/control.js')).resumeCommand()),
  lazy('dlq', "inspect and redrive the dead-letter queues", async () => (await import('./commands/dlq.js')).dlqCommand()),
  lazy('budget', "show a cluster's disruption budget: grants, unavailable nodes, waiting requests and why, health, events (no cluster: every cluster, one line each)", async () => (await import('./commands/budget.js')).budgetCommand()),
  lazy('hold', "take a node out for manual work: a grant from the cluster budget, shared with every task (waits like any request)", async () => (await import('./commands/hold.js')).holdCommand()),
  lazy('release', "give back a node's grant (a hold, a DEAD node's, a stuck one), recording who and why; exit 1 if it held none", async () => (await import('./commands/release.js')).releaseCommand()),
  lazy('policy', "cluster budget policies: apply them from files kept in git, show them, remove one", async () => (await import('./commands/policy.js')).policyCommand()),
  lazy('validate', "validate task specs and cluster policies (a directory: every .yaml/.yml/.json in it); exit 2 listing every problem", async () => (await import('./commands/validate.js')).validateCommand()),
  lazy('schema', "print the JSON Schema of a task spec file (for editors), or with --output of a command's --json output", async () => (await import('./commands/schema.js')).schemaCommand()),
  lazy('audit', "list the recorded operator actions (run, submit, cancel, pause, resume, dlq redrive/purge, hold, release, policy apply, gc)", async () => (await import('./commands/audit.js')).auditCommand()),
  lazy('ui', "serve a read-only web view: recent tasks, a task's nodes and timeline, clusters' grants, dead letters (live)", async () => (await import('./commands/ui.js')).uiCommand()),
  lazy('gc', "remove tasks that ended (succeeded, failed, cancelled, halted) longer ago than --older-than", async () => (await import('./commands/gc.js')).gcCommand()),
  lazy('scheduler', "fire the task specs of a folder on their cron schedule (leader-elected: run as many replicas as you like)", async () => (await import('./commands/scheduler.js')).schedulerCommand()),
  lazy('router', "consume the global queue and fan tasks out to the cluster and node queues", async () => (await import('./commands/router.js')).routerCommand()),
  lazy('runner', "pull and run this node's work: get a grant from the cluster budget, pre_check, execute, post_check (actions and plugins from --config)", async () => (await import('./commands/runner.js')).runnerCommand()),
  lazy('dev', "run everything in one process on in-memory backends with simulated nodes (nothing to install)", async () => (await import('./commands/dev.js')).devCommand()),
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
    .addHelpText('after', EXIT_CODES_HELP);
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
    return reportFailure(err, argv.slice(2));
  }
}
