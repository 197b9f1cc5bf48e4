// What every command needs once its options are parsed: the compiled common config, a logger, and a way
// to open backends that are closed when the command ends.
import type { Command } from 'commander';
import { BudgetStore } from '../core/budget/budget-store.js';
import { zkPaths } from '../core/coordination/zk-paths.js';
import { createLogger, type Logger } from '../core/logger.js';
import { connectZk, openBackends, openQueue, type Backends } from './backends.js';
import { resolveCommon, type CommonConfig } from './config.js';

export interface CommandContext {
  cfg: CommonConfig;
  logger: Logger;
  /** Write a line for the user (stdout). */
  out: (line: string) => void;
  /** Write a line of progress or diagnostics (stderr). */
  err: (line: string) => void;
}

export function commandContext(cmd: Command, defaults: { logLevel?: CommonConfig['logLevel']; pretty?: boolean } = {}): CommandContext {
  const cfg = resolveCommon(cmd.optsWithGlobals(), { logLevel: defaults.logLevel ?? 'warn' });
  const logger = createLogger({ level: cfg.logLevel, pretty: defaults.pretty ?? false });
  return {
    cfg,
    logger,
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}

/** Runs `fn` with backends open, closing them however it ends. */
export async function withBackends<T>(ctx: CommandContext, fn: (b: Backends) => Promise<T>): Promise<T> {
  const b = await openBackends(ctx.cfg, ctx.logger);
  try {
    return await fn(b);
  } finally {
    await b.close();
  }
}

/** Runs `fn` with the cluster budget's records open (ZooKeeper only: budget commands never touch SQS). */
export async function withBudget<T>(ctx: CommandContext, fn: (budget: BudgetStore) => Promise<T>): Promise<T> {
  const coordinator = await connectZk(ctx.cfg, ctx.logger);
  try {
    return await fn(new BudgetStore(coordinator, zkPaths(ctx.cfg.zkRoot)));
  } finally {
    await coordinator.close();
  }
}

export { openQueue };
