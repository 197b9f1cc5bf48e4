// An ActionContext for calling an action's steps directly in a test, with a checkpoint kept in memory (as
// the runner keeps it in the node record) that survives from one step, and one attempt, to the next.
import type { ActionContext, AttemptInfo } from '../../actions/action.js';
import { silentLogger } from '../../core/logger.js';

export interface TestAttempt<A> {
  ctx: ActionContext<A>;
  /** The checkpoint as the runner would have stored it. */
  checkpoint: Map<string, unknown>;
  abort(reason?: unknown): void;
}

export function testAttempt<A>(args: A, o: { node?: string; taskId?: string; attempt?: number; history?: AttemptInfo[]; checkpoint?: Map<string, unknown>; timeoutMs?: number } = {}): TestAttempt<A> {
  const ac = new AbortController();
  const checkpoint = o.checkpoint ?? new Map<string, unknown>();
  const signal = o.timeoutMs ? AbortSignal.any([ac.signal, AbortSignal.timeout(o.timeoutMs)]) : ac.signal;
  const ctx: ActionContext<A> = {
    taskId: o.taskId ?? 'task-1',
    cluster: 'test:cluster',
    node: o.node ?? 'node-1',
    args,
    attempt: o.attempt ?? 1,
    fencingToken: 1,
    signal,
    logger: silentLogger,
    heartbeat: () => undefined,
    history: o.history ?? [],
    grant: { token: 1, grantedAt: new Date().toISOString(), taskId: o.taskId ?? 'task-1' },
    checkpoint: {
      get: <T>(k: string) => checkpoint.get(k) as T | undefined,
      set: async (k: string, v: unknown) => void checkpoint.set(k, v),
    },
  };
  return { ctx, checkpoint, abort: (r) => ac.abort(r) };
}

/** Runs preCheck, execute and postCheck in order, as the runner does. */
export async function runAllSteps<A>(action: { preCheck?: (c: ActionContext<A>) => Promise<void>; execute: (c: ActionContext<A>) => Promise<void>; postCheck?: (c: ActionContext<A>) => Promise<void> }, ctx: ActionContext<A>): Promise<void> {
  await action.preCheck?.(ctx);
  await action.execute(ctx);
  await action.postCheck?.(ctx);
}
