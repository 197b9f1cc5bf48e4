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
import { bindRouterMetrics } from '../../router/router-metrics.js';
import { bindRouterNotifications } from '../../router/router-notify.js';
import { FleetScanner } from '../../core/fleet/fleet-scanner.js';
import { bindFleetMetrics } from '../../core/metrics/fleet-metrics.js';
import type { Daemon } from '../daemon.js';
import { AuditPruner } from '../../core/audit/audit-pruner.js';
import { metricsFromFlags, withMetricsOptions, type MetricsFlags } from '../metrics-options.js';
import { notifierFor, notifyConfig, withNotifyOptions, type NotifyFlags } from '../notify-options.js';
import { openBackends } from '../backends.js';
import { commandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { resolveRunnerConfig } from '../runner-config.js';
import { runUntilSignalled } from '../daemon.js';
import { buildDiscoveries, withDiscoveryOptions, type DiscoveryFlags } from '../discovery-options.js';

function int(field: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new OptionError(field, `must be a whole number from ${min} to ${max}`);
  return n;
}

interface RouterFlags extends DiscoveryFlags, MetricsFlags, NotifyFlags {
  scanInterval: string;
  queueDepthInterval: string;
  grantGrace: string;
  auditRetention: string;
  concurrency: string;
  visibility: string;
  maxReceives: string;
  retention: string;
  gcInterval: string;
  missingRunnerGrace: string;
}

export function routerCommand(): Command {
  return withCommonOptions(
    withNotifyOptions(withMetricsOptions(withDiscoveryOptions(
      new Command('router')
        .description('consume the global queue and fan tasks out to the cluster and node queues')
        .option('--concurrency <n>', 'tasks routed at once', '4')
        .option('--visibility <seconds>', 'visibility timeout of the cluster and node queues it creates', '60')
        .option('--max-receives <n>', 'redrive backstop: receives before SQS dead-letters a message', '10')
        .option('--retention <duration>', 'remove finished tasks from ZooKeeper after this long', '7d')
        .option('--gc-interval <duration>', 'how often the cleaner runs (one router at a time)', '1h')
        .option('--missing-runner-grace <duration>', 'a target with no live runner this long after routing ends DEAD (counts toward max_failures)', '10m')
        .option('--scan-interval <duration>', 'how often tasks and grants are read for metrics and notifications', '15s')
        .option('--queue-depth-interval <duration>', 'how often the global and dead-letter queue depths are read (GetQueueAttributes)', '60s')
        .option('--grant-grace <duration>', 'notify when a node has held its grant longer than this', '1h')
        .option('--audit-retention <duration>', 'remove audit trail days older than this (checked every --gc-interval)', '90d'),
    )), 'a task halts, fails or is cancelled, a node is dead-lettered or a grant is held past --grant-grace'),
  ).action(async (o: RouterFlags, cmd: Command) => {
    const ctx = commandContext(cmd, { logLevel: 'info', daemon: true });
    // The plugins (and systemctl) of the config file: refused here, before anything connects.
    const local = resolveRunnerConfig(ctx.cfg);
    const retentionMs = parseDuration(o.retention);
    if (retentionMs === undefined) throw new OptionError('retention', `"${o.retention}" must be a duration like 7d`);
    const intervalMs = parseDuration(o.gcInterval);
    if (!intervalMs) throw new OptionError('gc-interval', `"${o.gcInterval}" must be a duration like 1h`);
    const graceMs = parseDuration(o.missingRunnerGrace);
    if (graceMs === undefined) throw new OptionError('missing-runner-grace', `"${o.missingRunnerGrace}" must be a duration like 10m`);
    const scanMs = parseDuration(o.scanInterval);
    if (!scanMs) throw new OptionError('scan-interval', `"${o.scanInterval}" must be a duration like 15s`);
    const queueDepthMs = parseDuration(o.queueDepthInterval);
    if (!queueDepthMs) throw new OptionError('queue-depth-interval', `"${o.queueDepthInterval}" must be a duration like 60s`);
    const grantGraceMs = parseDuration(o.grantGrace);
    if (!grantGraceMs) throw new OptionError('grant-grace', `"${o.grantGrace}" must be a duration like 1h`);
    const auditRetentionMs = parseDuration(o.auditRetention);
    if (!auditRetentionMs) throw new OptionError('audit-retention', `"${o.auditRetention}" must be a duration like 90d`);
    const concurrency = int('concurrency', o.concurrency, 1, 10);
    const observed = await metricsFromFlags(o, ctx.cfg, 'router', ctx.logger);
    const notify = notifyConfig(o, ctx.cfg);
    const workVisibilitySec = int('visibility', o.visibility, 3, 43_200);
    const maxReceiveCount = int('max-receives', o.maxReceives, 1, 1000);
    const b = await openBackends(ctx.cfg, ctx.logger);
    const discoveries = buildDiscoveries(o, ctx.cfg, b.store, ctx.logger);
    const untrack = observed?.trackZkSession(b.store.coordinator);
    try {
      const queue = observed ? observed.instrumentQueue(b.queue) : b.queue;
      const notifier = notifierFor(notify, ctx.cfg, 'router', b.store.coordinator, ctx.logger, observed?.metrics);
      const router = new Router({
        queue,
        store: b.store,
        names: b.names,
        registry: await routerRegistry(local, ctx.logger),
        discovery: discoveries.map,
        logger: ctx.logger,
        concurrency,
        workVisibilitySec,
        maxReceiveCount,
      });
      const cleaner = new Cleaner(b.store, { retentionMs, intervalMs, logger: ctx.logger });
      const supervisor = new Supervisor({ store: b.store, queue, names: b.names, logger: ctx.logger, graceMs });
      const auditPruner = new AuditPruner({ coordinator: b.store.coordinator, root: ctx.cfg.zkRoot, retentionMs: auditRetentionMs, intervalMs, logger: ctx.logger });
      // Grants of nodes that left their cluster (no longer returned by discovery) go back, with the reason.
      const janitor = new BudgetJanitor({ store: b.store, discovery: discoveries.map, logger: ctx.logger, by: `router@${hostname()}` });
      const daemons: Daemon[] = [router, cleaner, supervisor, auditPruner, janitor];
      if (observed || notifier) {
        const scanner = new FleetScanner({ store: b.store, queue, names: b.names, logger: ctx.logger, intervalMs: scanMs, queueIntervalMs: queueDepthMs });
        if (observed) {
          bindRouterMetrics(router, observed.metrics, supervisor);
          bindFleetMetrics(scanner, observed.metrics);
          daemons.unshift(observed.server);
        }
        if (notifier) {
          bindRouterNotifications({ router, supervisor, scanner, notifier, store: b.store, names: b.names, logger: ctx.logger, grantGraceMs });
          daemons.unshift(notifier);
        }
        daemons.push(scanner);
      }
      await runUntilSignalled(daemons);
    } finally {
      untrack?.();
      discoveries.close();
      await b.close();
    }
  });
}
