// `taskerman router`: the routing daemon (any number of replicas).
import { Command } from 'commander';
import { builtinRegistry } from '../../actions/builtin.js';
import { ExplicitDiscovery, MembersDiscovery, StaticDiscovery } from '../../core/discovery.js';
import { Cleaner } from '../../core/cleaner.js';
import { parseDuration } from '../../core/duration.js';
import { OptionError } from '../../core/errors.js';
import { Membership } from '../../core/membership.js';
import { Router } from '../../router/router.js';
import { openBackends } from '../backends.js';
import { commandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { runUntilSignalled } from '../daemon.js';

function int(field: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new OptionError(field, `must be a whole number from ${min} to ${max}`);
  return n;
}

export function routerCommand(): Command {
  return withCommonOptions(
    new Command('router')
      .description('consume the global queue and fan tasks out to the cluster and node queues')
      .option('--inventory-root <dir>', 'directory that static inventory paths are relative to', process.cwd())
      .option('--concurrency <n>', 'tasks routed at once', '4')
      .option('--visibility <seconds>', 'visibility timeout of the cluster and node queues it creates', '60')
      .option('--max-receives <n>', 'redrive backstop: receives before SQS dead-letters a message', '10')
      .option('--retention <duration>', 'remove finished tasks from ZooKeeper after this long', '7d')
      .option('--gc-interval <duration>', 'how often the cleaner runs (one router at a time)', '1h'),
  ).action(async (o: { inventoryRoot: string; concurrency: string; visibility: string; maxReceives: string; retention: string; gcInterval: string }, cmd: Command) => {
    const ctx = commandContext(cmd, { logLevel: 'info' });
    const retentionMs = parseDuration(o.retention);
    if (retentionMs === undefined) throw new OptionError('retention', `"${o.retention}" must be a duration like 7d`);
    const intervalMs = parseDuration(o.gcInterval);
    if (!intervalMs) throw new OptionError('gc-interval', `"${o.gcInterval}" must be a duration like 1h`);
    const b = await openBackends(ctx.cfg, ctx.logger);
    try {
      const router = new Router({
        queue: b.queue,
        store: b.store,
        names: b.names,
        registry: builtinRegistry(),
        discovery: {
          explicit: new ExplicitDiscovery(),
          static: new StaticDiscovery(o.inventoryRoot),
          members: new MembersDiscovery(new Membership(b.store.coordinator, b.store.paths)),
        },
        logger: ctx.logger,
        concurrency: int('concurrency', o.concurrency, 1, 10),
        workVisibilitySec: int('visibility', o.visibility, 3, 43_200),
        maxReceiveCount: int('max-receives', o.maxReceives, 1, 1000),
      });
      const cleaner = new Cleaner(b.store, { retentionMs, intervalMs, logger: ctx.logger });
      await runUntilSignalled([router, cleaner]);
    } finally {
      await b.close();
    }
  });
}
