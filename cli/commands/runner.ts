// `taskerman runner`: the per-node daemon (run it under systemd on every node). Its node's zone (--zone or
// `zone:`) and the health checks of its cluster's budget gate (`checks:`) come from the flags and its config.
import { hostname } from 'node:os';
import { Command } from 'commander';
import { OptionError } from '../../core/errors.js';
import { Runner } from '../../runner/runner.js';
import { runnerRegistry } from '../action-registry.js';
import { openBackends, type Backends } from '../backends.js';
import { commandContext } from '../command-context.js';
import { validateZone, withCommonOptions } from '../config.js';
import { resolveRunnerConfig } from '../runner-config.js';
import { runUntilSignalled, type Daemon } from '../daemon.js';
import { bindRunnerMetrics } from '../../runner/runner-metrics.js';
import { bindRunnerNotifications } from '../../runner/runner-notify.js';
import { metricsFromFlags, withMetricsOptions, type MetricsFlags } from '../metrics-options.js';
import { notifierFor, notifyConfig, withNotifyOptions, type NotifyFlags } from '../notify-options.js';

export function runnerCommand(): Command {
  return withCommonOptions(
    withNotifyOptions(withMetricsOptions(new Command('runner')
      .description('pull and run this node\'s work: get a grant from the cluster budget, pre_check, execute, post_check (actions and plugins from --config)')
      .option('--cluster <name>', 'the cluster this node belongs to (or `cluster` in --config)')
      .option('--node <name>', 'this node\'s name, as discovery returns it (default: the host name)')
      .option('--zone <zone>', 'this node\'s zone (rack, availability zone) for the policy\'s zone_budget (or `zone` in --config)')
      .option('--max-items <n>', 'work items of different tasks held at once, each waiting for the node\'s grant', '8')
      .option('--visibility <seconds>', 'visibility timeout of a message in hand (extended while working)', '60')
      .option('--drain-timeout <seconds>', 'on SIGTERM, abort the action in flight after this long', '600')), 'this node is dead-lettered'),
  )
    .addHelpText('after', '\nThe --config file may also hold `zone:`, the `exec:` allowlist, the `actions:` section (each action\'s units, endpoints, credentials), `plugins:` and the `checks:` of the cluster\'s health gate:\n  checks:\n    ring-healthy: { argv: [/usr/local/bin/cassandra-ring-healthy] }   # exit 0 = healthy\n(see examples/runner-config.yaml)')
    .action(async (o: { cluster?: string; node?: string; zone?: string; maxItems: string; visibility: string; drainTimeout: string } & MetricsFlags & NotifyFlags, cmd: Command) => {
    const ctx = commandContext(cmd, { logLevel: 'info', daemon: true });
    const cluster = o.cluster ?? (typeof ctx.cfg.file.cluster === 'string' ? ctx.cfg.file.cluster : undefined);
    if (!cluster) throw new OptionError('cluster', 'is required: --cluster <name> or `cluster:` in --config');
    const node = o.node ?? (typeof ctx.cfg.file.node === 'string' ? ctx.cfg.file.node : hostname());
    const visibilitySec = Number(o.visibility);
    if (!Number.isInteger(visibilitySec) || visibilitySec < 3) throw new OptionError('visibility', 'must be a whole number of seconds, 3 or more');
    const zone = o.zone !== undefined ? validateZone(o.zone) : typeof ctx.cfg.file.zone === 'string' ? ctx.cfg.file.zone : undefined;
    const maxItems = Number(o.maxItems);
    if (!Number.isInteger(maxItems) || maxItems < 1 || maxItems > 64) throw new OptionError('max-items', 'must be a whole number from 1 to 64');
    const drain = Number(o.drainTimeout);
    if (!Number.isFinite(drain) || drain < 0) throw new OptionError('drain-timeout', 'must be a number of seconds');
    const local = resolveRunnerConfig(ctx.cfg);
    const observed = await metricsFromFlags(o, ctx.cfg, 'runner', ctx.logger);
    const notify = notifyConfig(o, ctx.cfg);
    // Plugins are verified before anything connects; the actions reach the task store once it is open.
    const opened: { store?: Backends['store'] } = {};
    const registry = await runnerRegistry(local, ctx.logger, () => {
      if (!opened.store) throw new OptionError('runner', 'the task store is not open yet');
      return opened.store;
    });
    const b = await openBackends(ctx.cfg, ctx.logger);
    opened.store = b.store;
    const untrack = observed?.trackZkSession(b.store.coordinator);
    try {
      const notifier = notifierFor(notify, ctx.cfg, 'runner', b.store.coordinator, ctx.logger, observed?.metrics);
      const runner = new Runner({
        cluster,
        node,
        queue: observed ? observed.instrumentQueue(b.queue) : b.queue,
        store: b.store,
        names: b.names,
        registry,
        logger: ctx.logger,
        visibilitySec,
        drainTimeoutMs: drain * 1000,
        ...(zone ? { zone } : {}),
        checks: local.checks,
        maxItems,
      });
      const daemons: Daemon[] = [runner];
      if (observed) {
        bindRunnerMetrics(runner, observed.metrics, b.store);
        daemons.unshift(observed.server);
      }
      if (notifier) {
        bindRunnerNotifications(runner, notifier, b.names);
        daemons.unshift(notifier);
      }
      await runUntilSignalled(daemons);
    } finally {
      untrack?.();
      await b.close();
    }
  });
}
