// `taskerman ui [--port 8080] [--host 127.0.0.1]`: the read-only web view of tasks, clusters and dead
// letters, live (server-sent events). Needs ZooKeeper read access and, for the dead letters, the operator's
// SQS permissions on the dead-letter queues.
import { Command } from 'commander';
import { parseDuration } from '../../core/duration.js';
import { OptionError } from '../../core/errors.js';
import { UiServer } from '../../ui/ui-server.js';
import { openBackends } from '../backends.js';
import { commandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { runUntilSignalled } from '../daemon.js';

export function uiCommand(): Command {
  return withCommonOptions(
    new Command('ui')
      .description('serve a read-only web view: recent tasks, a task\'s nodes and timeline, clusters\' grants, dead letters (live)')
      .option('--port <port>', 'port to listen on', '8080')
      .option('--host <host>', 'address to bind (loopback by default; put a proxy with authentication in front to share it)', '127.0.0.1')
      .option('--dead-letter-refresh <duration>', 'how often the dead-letter queues are read', '30s'),
  ).action(async (o: { port: string; host: string; deadLetterRefresh: string }, cmd: Command) => {
    const port = Number(o.port);
    if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new OptionError('port', `"${o.port}" must be a port number from 1 to 65535`);
    const refreshMs = parseDuration(o.deadLetterRefresh);
    if (!refreshMs) throw new OptionError('dead-letter-refresh', `"${o.deadLetterRefresh}" must be a duration like 30s`);
    const ctx = commandContext(cmd, { logLevel: 'info' });
    const b = await openBackends(ctx.cfg, ctx.logger);
    try {
      const server = new UiServer({ store: b.store, queue: b.queue, names: b.names, logger: ctx.logger, port, host: o.host, deadLetterRefreshMs: refreshMs });
      await runUntilSignalled([server], () => ctx.err('taskerman ui: stopping'));
    } finally {
      await b.close();
    }
  });
}
