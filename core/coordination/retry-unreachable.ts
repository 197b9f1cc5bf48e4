// A daemon's start-up steps against ZooKeeper (create its folders, register its node, join the membership and
// the keeper election) run again while ZooKeeper is unreachable: a connection lost in the middle of a start
// (a server restart, a long GC pause, an overloaded ensemble) must not end the process, which would leave a
// node without its runner until systemd starts it again. Each step must be safe to run twice.
import { isZkUnreachable } from './coordinator.js';
import { delay } from '../delay.js';
import type { Logger } from '../logger.js';

export interface RetryOptions {
  log: Logger;
  /** Stops retrying (the daemon is stopping): the last error is thrown. */
  signal?: AbortSignal;
  /** How long to keep trying, in all (default 2 min); then the last error is thrown. */
  budgetMs?: number;
  /** The first pause (default 250 ms); it doubles up to 5 s. */
  firstPauseMs?: number;
}

const MAX_PAUSE_MS = 5_000;

/** Runs `step`; while it fails because ZooKeeper is unreachable, pauses and runs it again, within the budget. */
export async function retryWhileUnreachable<T>(what: string, step: () => Promise<T>, o: RetryOptions): Promise<T> {
  const deadline = performance.now() + (o.budgetMs ?? 120_000);
  let pause = o.firstPauseMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!isZkUnreachable(err) || o.signal?.aborted || performance.now() + pause > deadline) throw err;
      o.log.warn({ step: what, attempt, retry_in_ms: pause, err: err instanceof Error ? err.message : String(err) }, 'ZooKeeper unreachable while starting; trying again');
      await delay(pause, o.signal);
      pause = Math.min(pause * 2, MAX_PAUSE_MS);
    }
  }
}
