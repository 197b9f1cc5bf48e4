// `taskerman scheduler --specs <dir>`: the cron scheduler daemon (any number of replicas; one leads).
// Validates every spec of the folder before it schedules any; SIGHUP (and, with --watch, any change in the
// folder) reloads it; SIGTERM/SIGINT stop it cleanly.
import { watch, type FSWatcher } from 'node:fs';
import { Command } from 'commander';
import { SpecError, describeError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { loadTaskSpecFile } from '../../core/task/task-spec.js';
import { loadSchedulable, Scheduler, type LoadedSpec, type SpecLoad, type SpecSource } from '../../scheduler/scheduler.js';
import { openBackends } from '../backends.js';
import { commandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';
import { runUntilSignalled, type Daemon } from '../daemon.js';
import { bindSchedulerMetrics } from '../../scheduler/scheduler-metrics.js';
import { bindSchedulerNotifications } from '../../scheduler/scheduler-notify.js';
import { metricsFromFlags, withMetricsOptions, type MetricsFlags } from '../metrics-options.js';
import { notifierFor, notifyConfig, withNotifyOptions, type NotifyFlags } from '../notify-options.js';
import { specFiles, validateFiles } from './validate.js';

/** Quiet time after the last change in the folder before --watch reloads (a `git pull` touches many files). */
const WATCH_DEBOUNCE_MS = 500;

/** The specs of one folder (every .yaml/.yml/.json in it, not recursive), validated as `taskerman validate` does. */
export function directorySpecSource(dir: string): SpecSource {
  return async (): Promise<SpecLoad> => {
    const files = await specFiles([dir]);
    const { ok, issues, policies } = await validateFiles(files);
    // Cluster policies kept next to the specs are applied with `taskerman policy apply`, not scheduled.
    const policyFiles = new Set(policies.map((p) => p.file));
    const specs: LoadedSpec[] = [];
    for (const file of ok.filter((f) => !policyFiles.has(f))) {
      try {
        specs.push({ file, spec: await loadTaskSpecFile(file) });
      } catch (err) {
        // Changed between the two reads (a checkout in progress): report it, the next reload sees it settled.
        if (err instanceof SpecError) issues.push(...err.issues);
        else throw err;
      }
    }
    return { specs, issues };
  };
}

/** Calls `onChange` once the folder has been quiet for `debounceMs` after a change. Returns a stop function. */
export function watchSpecs(dir: string, onChange: () => void, logger: Logger, debounceMs = WATCH_DEBOUNCE_MS, persistent = true): () => void {
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dir, { persistent }, () => {
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    });
    watcher.on('error', (err) => logger.error({ err: describeError(err), dir }, 'watching the specs folder failed; SIGHUP still reloads'));
  } catch (err) {
    logger.error({ err: describeError(err), dir }, 'cannot watch the specs folder; SIGHUP still reloads');
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}

export function schedulerCommand(): Command {
  return withCommonOptions(
    withNotifyOptions(withMetricsOptions(new Command('scheduler')
      .description('fire the task specs of a folder on their cron schedule (leader-elected: run as many replicas as you like)')
      .requiredOption('--specs <dir>', 'folder of task specs (.yaml, .yml, .json), e.g. a git checkout')
      .option('--skip-invalid', 'log and skip invalid spec files instead of refusing to start (or to reload)')
      .option('--watch', 'reload when a file in the folder changes (SIGHUP always reloads)')), 'a fire time is missed and not fired (catchup: none)'),
  ).action(async (o: { specs: string; skipInvalid?: boolean; watch?: boolean } & MetricsFlags & NotifyFlags, cmd: Command) => {
    const ctx = commandContext(cmd, { logLevel: 'info', daemon: true });
    const source = directorySpecSource(o.specs);
    // Refuse bad specs before connecting anywhere: the answer does not depend on ZooKeeper or SQS.
    const pre = await loadSchedulable(source);
    if (pre.issues.length > 0 && !o.skipInvalid) throw new SpecError(pre.issues);
    let refresh: (() => void) | undefined;
    const observed = await metricsFromFlags(o, ctx.cfg, 'scheduler', ctx.logger, async () => refresh?.());
    const notify = notifyConfig(o, ctx.cfg);
    const b = await openBackends(ctx.cfg, ctx.logger);
    const untrack = observed?.trackZkSession(b.store.coordinator);
    const notifier = notifierFor(notify, ctx.cfg, 'scheduler', b.store.coordinator, ctx.logger, observed?.metrics);
    const scheduler = new Scheduler({
      queue: observed ? observed.instrumentQueue(b.queue) : b.queue,
      names: b.names,
      coordinator: b.store.coordinator,
      root: ctx.cfg.zkRoot,
      source,
      logger: ctx.logger,
      skipInvalid: o.skipInvalid ?? false,
    });
    const reload = (why: string) => {
      ctx.logger.info({ why }, 'reloading the specs');
      void scheduler.reload();
    };
    // Installed before start: SIGHUP's default action would kill the process.
    const onHup = () => reload('SIGHUP');
    process.on('SIGHUP', onHup);
    const unwatch = o.watch ? watchSpecs(o.specs, () => reload('the specs folder changed'), ctx.logger) : undefined;
    const daemons: Daemon[] = [scheduler];
    if (observed) {
      refresh = bindSchedulerMetrics(scheduler, observed.metrics);
      daemons.unshift(observed.server);
    }
    if (notifier) {
      bindSchedulerNotifications(scheduler, notifier);
      daemons.unshift(notifier);
    }
    try {
      await runUntilSignalled(daemons);
    } finally {
      untrack?.();
      unwatch?.();
      process.off('SIGHUP', onHup);
      await b.close();
    }
  });
}
