// `taskerman dlq list | show | redrive | purge`: the dead-letter queues, with the reason of every message.
import { Command } from 'commander';
import { listDeadLetters, redriveDeadLetters, deadLetterQueues, type DeadLetter, type DeadLetterFilter } from '../../core/queue/dead-letters.js';
import { currentUser } from '../../core/task/emit.js';
import { NotFoundError, OptionError } from '../../core/errors.js';
import { commandContext, withBackends, type CommandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { audited } from '../audit-trail.js';
import { EXIT, ExitError } from '../handle-error.js';
import { toIso } from '../output/json-time.js';
import type { OutputOf } from '../output/outputs.js';
import { printJson } from '../output/print.js';

interface ScopeOptions {
  cluster?: string;
  task?: string;
  node?: string;
  message?: string;
  json?: boolean;
  max: string;
}

function scoped(cmd: Command): Command {
  return withCommonOptions(
    cmd
      .option('--cluster <name>', "only this cluster's dead-letter queue (default: the global one and every cluster's)")
      .option('--task <task_id>', 'only messages of this task')
      .option('--node <node>', 'only messages of this node')
      .option('--max <n>', 'read at most this many messages per queue', '1000')
      .option('--json', 'print JSON'),
  );
}

function filterOf(o: ScopeOptions): DeadLetterFilter {
  return { ...(o.cluster ? { cluster: o.cluster } : {}), ...(o.task ? { taskId: o.task } : {}), ...(o.node ? { node: o.node } : {}), ...(o.message ? { messageId: o.message } : {}) };
}

function maxOf(o: ScopeOptions): number {
  const n = Number(o.max);
  if (!Number.isInteger(n) || n < 1) throw new OptionError('max', 'must be a positive whole number');
  return n;
}

function deadLetterJson(d: DeadLetter): OutputOf<'dlq-show'> {
  return {
    queue: d.queue,
    id: d.id,
    code: d.code,
    reason: d.reason,
    source: d.source || null,
    task_id: d.taskId ?? null,
    node: d.node ?? null,
    attempts: d.attempts ?? null,
    dead_at: toIso(d.deadAt),
    body: d.body,
  };
}

function line(d: DeadLetter): string {
  const who = d.taskId ? `${d.taskId}${d.node ? `/${d.node}` : ''}` : '(no task)';
  return `${d.id}  ${d.deadAt ?? '-'}  ${who}  ${d.code}: ${d.reason}`;
}

async function withScope(ctx: CommandContext, o: ScopeOptions, fn: (queues: string[], b: Parameters<Parameters<typeof withBackends>[1]>[0]) => Promise<void>) {
  await withBackends(ctx, async (b) => fn(await deadLetterQueues(b.queue, b.names, o.cluster), b));
}

export function dlqCommand(): Command {
  const dlq = new Command('dlq').description('inspect and redrive the dead-letter queues');

  dlq.addCommand(
    scoped(new Command('list').description('list dead letters with their reasons')).action(async (o: ScopeOptions, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withScope(ctx, o, async (queues, b) => {
        const all = await listDeadLetters(b.queue, queues, filterOf(o), maxOf(o));
        if (o.json) return printJson(ctx, 'dlq-list', all.map(deadLetterJson));
        if (all.length === 0) return ctx.out(`no dead letters in ${queues.join(', ')}`);
        let last = '';
        for (const d of all) {
          if (d.queue !== last) ctx.out(`${(last = d.queue)}:`);
          ctx.out(`  ${line(d)}`);
        }
      });
    }),
  );

  dlq.addCommand(
    scoped(new Command('show').description('show one dead letter, body included').argument('<message_id>')).action(async (id: string, o: ScopeOptions, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withScope(ctx, o, async (queues, b) => {
        const [d] = await listDeadLetters(b.queue, queues, { ...filterOf(o), messageId: id }, maxOf(o));
        if (!d) throw new NotFoundError(`dead letter ${id}`, { hint: 'list them with `taskerman dlq list`' });
        if (o.json) printJson(ctx, 'dlq-show', deadLetterJson(d));
        else ctx.out(`${line(d)}\nqueue:  ${d.queue}\nsource: ${d.source}\nattempts: ${d.attempts ?? '-'}\nbody:\n${d.body}`);
      });
    }),
  );

  dlq.addCommand(
    scoped(
      new Command('redrive')
        .description('send dead letters back to their source queue (a node gets a fresh attempt budget)')
        .option('--message <message_id>', 'one message')
        .option('--all', 'every message in scope'),
    ).action(async (o: ScopeOptions & { all?: boolean }, cmd: Command) => {
      if (!o.message && !o.task && !o.node && !o.all && !o.cluster) {
        throw new OptionError('redrive', 'say what to redrive: --message <id>, --task <id> [--node <n>], --cluster <c> or --all');
      }
      const ctx = commandContext(cmd);
      await withScope(ctx, o, async (queues, b) => {
        const done = await audited(
          ctx,
          { command: 'dlq redrive', ...(o.cluster ? { cluster: o.cluster } : {}), ...(o.task ? { taskId: o.task } : {}), ...(o.node ? { node: o.node } : {}), args: { message: o.message ?? null, all: Boolean(o.all), queues } },
          async (w) => {
            const r = await redriveDeadLetters(b.queue, b.store, queues, filterOf(o), currentUser(), maxOf(o));
            w.args = { ...w.args, redriven: r.length };
            return r;
          },
          b.store.coordinator,
        );
        if (o.json) return printJson(ctx, 'dlq-redrive', done.map((d) => ({ id: d.id, source: d.source, task_id: d.taskId ?? null, node: d.node ?? null })));
        ctx.out(`redrove ${done.length} message(s)`);
        for (const d of done) ctx.out(`  ${d.id} -> ${d.source}`);
      });
    }),
  );

  dlq.addCommand(
    withCommonOptions(
      new Command('purge')
        .description('delete every message of the dead-letter queues in scope')
        .option('--cluster <name>', "only this cluster's dead-letter queue")
        .option('--yes', 'really delete them'),
    ).action(async (o: { cluster?: string; yes?: boolean }, cmd: Command) => {
      const ctx = commandContext(cmd);
      await withBackends(ctx, async (b) => {
        const queues = await deadLetterQueues(b.queue, b.names, o.cluster);
        if (!o.yes) {
          throw new ExitError(EXIT.usage, `taskerman: this deletes every message in ${queues.join(', ') || '(no dead-letter queue)'}; add --yes to do it`);
        }
        await audited(ctx, { command: 'dlq purge', ...(o.cluster ? { cluster: o.cluster } : {}), args: { queues } }, async () => {
          for (const q of queues) await b.queue.purge(q);
        }, b.store.coordinator);
        ctx.out(`purged ${queues.length} dead-letter queue(s)`);
      });
    }),
  );
  return dlq;
}
