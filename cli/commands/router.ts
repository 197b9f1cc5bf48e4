// `taskerman router`: the routing daemon (any number of replicas), with the cleaner of finished tasks.
import { Command } from 'commander';
import { Cleaner } from '../../core/task/cleaner.js';
import { parseDuration } from '../../core/duration.js';
import { OptionError } from '../../core/errors.js';
import { Router } from '../../router/router.js';
import { hostname } from 'node:os';
import { BudgetJanitor } from '../../router/budget-janitor.js';
import { Supervisor } from '../../router/supervisor.js';
import { routerRegistry } from '../action-registry.js';
import { openBackends } from '../backends.js';
import { commandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { runUntilSignalled } from '../daemon.js';
import { buildDiscoveries, withDiscoveryOptions, type DiscoveryFlags } from '../discovery-options.js';

function int(field: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new OptionError(field, `must be a whole number from ${min} to ${max}`);
  return n;
}

interface RouterFlags extends DiscoveryFlags {
  concurrency: string;
  visibility: string;
  maxReceives: string;
  retention: string;
  gcInterval: string;
  missingRunnerGrace: string;
}

export function routerCommand(): Command {
  return withCommonOptions(
    withDiscoveryOptions(
      new Command('router')
        .description('consume the global queue and fan tasks out to the cluster and node queues')
        .option('--concurrency <n>', 'tasks routed at once', '4')
        .option('--visibility <seconds>', 'visibility timeout of the cluster and node queues it creates', '60')
        .option('--max-receives <n>', 'redrive backstop: receives before SQS dead-letters a message', '10')
        .option('--retention <duration>', 'remove finished tasks from ZooKeeper after this long', '7d')
        .option('--gc-interval <duration>', 'how often the cleaner runs (one router at a time)', '1h')
        .option('--missing-runner-grace <duration>', 'a target with no live runner this long after routing ends DEAD (counts toward max_failures)', '10m'),
    ),
  ).action(async (o: RouterFlags, cmd: Command) => {
    const ctx = commandContext(cmd, { logLevel: 'info', daemon: true });
    const retentionMs = parseDuration(o.retention);
    if (retentionMs === undefined) throw new OptionError('retention', `"${o.retention}" must be a duration like 7d`);
    const intervalMs = parseDuration(o.gcInterval);
    if (!intervalMs) throw new OptionError('gc-interval', `"${o.gcInterval}" must be a duration like 1h`);
    const graceMs = parseDuration(o.missingRunnerGrace);
    if (graceMs === undefined) throw new OptionError('missing-runner-grace', `"${o.missingRunnerGrace}" must be a duration like 10m`);
    const concurrency = int('concurrency', o.concurrency, 1, 10);
    const workVisibilitySec = int('visibility', o.visibility, 3, 43_200);
    const maxReceiveCount = int('max-receives', o.maxReceives, 1, 1000);
    const b = await openBackends(ctx.cfg, ctx.logger);
    const discoveries = buildDiscoveries(o, ctx.cfg, b.store, ctx.logger);
    try {
      const router = new Router({
        queue: b.queue,
        store: b.store,
        names: b.names,
        registry: await routerRegistry(ctx.cfg, ctx.logger),
        discovery: discoveries.map,
        logger: ctx.logger,
        concurrency,
        workVisibilitySec,
        maxReceiveCount,
      });
      const cleaner = new Cleaner(b.store, { retentionMs, intervalMs, logger: ctx.logger });
      const supervisor = new Supervisor({ store: b.store, queue: b.queue, names: b.names, logger: ctx.logger, graceMs });
      // Grants of nodes that left their cluster (no longer returned by discovery) go back, with the reason.
      const janitor = new BudgetJanitor({ store: b.store, discovery: discoveries.map, logger: ctx.logger, by: `router@${hostname()}` });
      await runUntilSignalled([router, cleaner, supervisor, janitor]);
    } finally {
      discoveries.close();
      await b.close();
    }
  });
}
