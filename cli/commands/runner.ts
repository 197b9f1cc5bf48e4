// `taskerman runner`: the per-node daemon (run it under systemd on every node).
import { hostname } from 'node:os';
import { Command } from 'commander';
import { builtinRegistry } from '../../actions/builtin.js';
import { OptionError } from '../../core/errors.js';
import { Runner } from '../../runner/runner.js';
import { openBackends } from '../backends.js';
import { commandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { runUntilSignalled, type Daemon } from '../daemon.js';
import { instrumentQueue } from '../../core/metrics/instrumented-queue.js';
import { trackZkSession } from '../../core/metrics/zk-session-metrics.js';
import { bindRunnerMetrics } from '../../runner/runner-metrics.js';
import { bindRunnerNotifications } from '../../runner/runner-notify.js';
import { metricsFromFlags, withMetricsOptions, type MetricsFlags } from '../metrics-options.js';
import { notifierFor, notifyConfig, withNotifyOptions, type NotifyFlags } from '../notify-options.js';

export function runnerCommand(): Command {
  return withCommonOptions(
    withNotifyOptions(withMetricsOptions(new Command('runner')
      .description('pull and run this node\'s work: lease a slot, pre_check, execute, post_check')
      .option('--cluster <name>', 'the cluster this node belongs to (or `cluster` in --config)')
      .option('--node <name>', 'this node\'s name, as discovery returns it (default: the host name)')
      .option('--visibility <seconds>', 'visibility timeout of a message in hand (extended while working)', '60')
      .option('--drain-timeout <seconds>', 'on SIGTERM, abort the action in flight after this long', '600')), 'this node is dead-lettered'),
  ).action(async (o: { cluster?: string; node?: string; visibility: string; drainTimeout: string } & MetricsFlags & NotifyFlags, cmd: Command) => {
    const ctx = commandContext(cmd, { logLevel: 'info' });
    const cluster = o.cluster ?? (typeof ctx.cfg.file.cluster === 'string' ? ctx.cfg.file.cluster : undefined);
    if (!cluster) throw new OptionError('cluster', 'is required: --cluster <name> or `cluster:` in --config');
    const node = o.node ?? (typeof ctx.cfg.file.node === 'string' ? ctx.cfg.file.node : hostname());
    const visibilitySec = Number(o.visibility);
    if (!Number.isInteger(visibilitySec) || visibilitySec < 3) throw new OptionError('visibility', 'must be a whole number of seconds, 3 or more');
    const drain = Number(o.drainTimeout);
    if (!Number.isFinite(drain) || drain < 0) throw new OptionError('drain-timeout', 'must be a number of seconds');
    const observed = metricsFromFlags(o, ctx.cfg, 'runner', ctx.logger);
    const notify = notifyConfig(o, ctx.cfg);
    const b = await openBackends(ctx.cfg, ctx.logger);
    const untrack = observed ? trackZkSession(b.store.coordinator, observed.metrics) : undefined;
    try {
      const notifier = notifierFor(notify, ctx.cfg, 'runner', b.store.coordinator, ctx.logger, observed?.metrics);
      const runner = new Runner({
        cluster,
        node,
        queue: observed ? instrumentQueue(b.queue, observed.metrics) : b.queue,
        store: b.store,
        names: b.names,
        registry: builtinRegistry({ execAllowlist: ctx.cfg.exec }),
        logger: ctx.logger,
        visibilitySec,
        drainTimeoutMs: drain * 1000,
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
