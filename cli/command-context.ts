// What every command needs once its options are parsed: the compiled common config, a logger, and a way
// to open backends that are closed when the command ends.
import type { Command } from 'commander';
import { pino } from 'pino';
import { BudgetStore } from '../core/budget/budget-store.js';
import { zkPaths } from '../core/coordination/zk-paths.js';
import { createLogger, type Logger } from '../core/logger.js';
import type { WorkQueue } from '../core/queue/work-queue.js';
import { inContext } from './handle-error.js';
import { connectZk, openBackends, openQueue, startBackends, type Backends, type StartedBackends } from './backends.js';
import type { QueueNames } from '../core/queue/queue-names.js';
import { resolveCommon, type CommonConfig } from './config.js';

export interface CommandContext {
  cfg: CommonConfig;
  logger: Logger;
  /** Write a line for the user (stdout). */
  out: (line: string) => void;
  /** Write a line of progress or diagnostics (stderr). */
  err: (line: string) => void;
}

/**
 * `daemon: true` for the router, runner and scheduler, whose JSON logs go to stdout (their output); every
 * other command logs to stderr, so that nothing but the command's output ever lands on stdout.
 */
export function commandContext(cmd: Command, defaults: { logLevel?: CommonConfig['logLevel']; pretty?: boolean; daemon?: boolean } = {}): CommandContext {
  const cfg = resolveCommon(cmd.optsWithGlobals(), { logLevel: defaults.logLevel ?? 'warn' });
  const logger = createLogger({ level: cfg.logLevel, pretty: defaults.pretty ?? false, ...(defaults.daemon ? {} : { destination: pino.destination({ fd: 2, sync: true }) }) });
  return {
    cfg,
    logger,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}

/** Where the command points, for messages about a missing queue or a lost ZooKeeper. */
const whereOf = (cfg: CommonConfig) => ({ zk: cfg.zk, region: cfg.region, queuePrefix: cfg.queuePrefix });

/** Runs `fn` with backends open, closing them however it ends; errors get the command's context. */
export async function withBackends<T>(ctx: CommandContext, fn: (b: Backends) => Promise<T>): Promise<T> {
  let b: Backends;
  try {
    b = await openBackends(ctx.cfg, ctx.logger);
  } catch (err) {
    throw inContext(err, whereOf(ctx.cfg));
  }
  return useClosing(ctx, b, fn);
}

/**
 * Runs `fn` while the backends open (`startBackends`: ZooKeeper still connecting, the SQS adapter loading for
 * the queues in `sendsTo`), closing them however it ends; errors get the command's context.
 */
export async function withStartedBackends<T>(ctx: CommandContext, sendsTo: (names: QueueNames) => string[], fn: (b: StartedBackends) => Promise<T>): Promise<T> {
  return useClosing(ctx, startBackends(ctx.cfg, ctx.logger, sendsTo), fn);
}

/** `fn(b)`, its errors given the command's context, `b` closed however it ends. */
async function useClosing<B extends { close(): Promise<void> }, T>(ctx: CommandContext, b: B, fn: (b: B) => Promise<T>): Promise<T> {
  try {
    return await fn(b);
  } catch (err) {
    throw inContext(err, whereOf(ctx.cfg));
  } finally {
    await b.close();
  }
}

/** Runs `fn` with the cluster budget's records open (ZooKeeper only: budget commands never touch SQS). */
export async function withBudget<T>(ctx: CommandContext, fn: (budget: BudgetStore) => Promise<T>): Promise<T> {
  const coordinator = await connectZk(ctx.cfg, ctx.logger);
  try {
    return await fn(new BudgetStore(coordinator, zkPaths(ctx.cfg.zkRoot)));
  } catch (err) {
    throw inContext(err, whereOf(ctx.cfg));
  } finally {
    await coordinator.close();
  }
}

/** Runs `fn` with only the queue open (commands that only send to SQS). */
export async function withQueue<T>(ctx: CommandContext, fn: (q: WorkQueue) => Promise<T>): Promise<T> {
  const queue = openQueue(ctx.cfg);
  try {
    return await fn(queue);
  } catch (err) {
    throw inContext(err, whereOf(ctx.cfg));
  } finally {
    await queue.close();
  }
}

export { openQueue };
