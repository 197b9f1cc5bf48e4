// --metrics-port / --metrics-host for the daemons (router, runner, scheduler): off unless a port is given,
// loopback unless a host is. Also read from the config file (metrics_port, metrics_host) and the
// environment (TASKERMAN_METRICS_PORT, TASKERMAN_METRICS_HOST). The metrics modules (prom-client, an HTTP
// server: ~6 MB of a daemon's memory) are loaded only when a port is given.
import { Option, type Command } from 'commander';
import type { Coordinator } from '../core/coordination/coordinator.js';
import { OptionError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { MetricsServer } from '../core/metrics/metrics-server.js';
import type { TaskermanMetrics } from '../core/metrics/metrics.js';
import type { WorkQueue } from '../core/queue/work-queue.js';
import type { CommonConfig } from './config.js';

export interface MetricsFlags {
  metricsPort?: string;
  metricsHost?: string;
}

export function withMetricsOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--metrics-port <port>', 'serve Prometheus metrics on this port at /metrics (off by default)').env('TASKERMAN_METRICS_PORT'))
    .addOption(new Option('--metrics-host <host>', 'address the metrics server binds to (default 127.0.0.1)').env('TASKERMAN_METRICS_HOST'));
}

export interface MetricsSetup {
  metrics: TaskermanMetrics;
  server: MetricsServer;
  /** Counts the ZooKeeper session's states; returns the function that stops counting. */
  trackZkSession(coordinator: Coordinator): () => void;
  /** The queue with its SQS calls counted and timed. */
  instrumentQueue(queue: WorkQueue): WorkQueue;
}

/** The metrics of a daemon, or undefined when no port is given. The server is started with the daemon. */
export async function metricsFromFlags(o: MetricsFlags, cfg: CommonConfig, component: string, logger: Logger, beforeScrape?: () => Promise<void>): Promise<MetricsSetup | undefined> {
  const raw = o.metricsPort ?? (cfg.file.metrics_port !== undefined ? String(cfg.file.metrics_port) : undefined);
  if (raw === undefined || raw === '') return undefined;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new OptionError('metrics-port', `"${raw}" must be a port number from 1 to 65535`);
  const host = o.metricsHost ?? (typeof cfg.file.metrics_host === 'string' ? cfg.file.metrics_host : '127.0.0.1');
  const [{ createMetrics }, { MetricsServer }, { trackZkSession }, { instrumentQueue }] = await Promise.all([
    import('../core/metrics/metrics.js'),
    import('../core/metrics/metrics-server.js'),
    import('../core/metrics/zk-session-metrics.js'),
    import('../core/metrics/instrumented-queue.js'),
  ]);
  const metrics = createMetrics({ component });
  const server = new MetricsServer({ registry: metrics.registry, port, host, logger, ...(beforeScrape ? { beforeScrape } : {}) });
  return {
    metrics,
    server,
    trackZkSession: (coordinator) => trackZkSession(coordinator, metrics),
    instrumentQueue: (queue) => instrumentQueue(queue, metrics),
  };
}
