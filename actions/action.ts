// The action contract. An action is pre-defined, reviewed code: a name, a contract version, a schema for
// its arguments, and three steps. Delivery is at least once (DESIGN.md invariant 3), so every step must be
// idempotent: running it twice on the same node must be as safe as running it once.
import type { Logger } from 'pino';
import type { z } from 'zod';

export interface ActionContext<A = Record<string, unknown>> {
  taskId: string;
  cluster: string;
  node: string;
  /** Arguments, already validated against the action's schema. */
  args: A;
  /** 1 for the first attempt. */
  attempt: number;
  /**
   * The slot's sequence number. It only grows, so a side effect that can check it (e.g. a conditional write
   * that refuses a token lower than the last one seen) is fenced against a runner that lost its slot.
   */
  fencingToken: number;
  /** Aborts on timeout, on cancellation, on shutdown, and when the slot can no longer be trusted. */
  signal: AbortSignal;
  /** Child logger with task_id, node, cluster and action bound. */
  logger: Logger;
  /** Tell the runner the action is alive (extends the message's invisibility early). */
  heartbeat(): void;
}

export type Step<A> = (ctx: ActionContext<A>) => Promise<void>;

export interface Action<A = Record<string, unknown>> {
  /** e.g. "sleep", "cassandra:restart". */
  name: string;
  /** The contract version a spec must name. */
  version: number;
  description: string;
  args: z.ZodType<A>;
  /** Is it safe to act on this node now? Throwing stops the node before anything is changed. */
  preCheck?: Step<A>;
  execute: Step<A>;
  /** Is the cluster healthy after the change? Throwing fails the attempt. */
  postCheck?: Step<A>;
}

/** Erases the argument type for the registry; args are validated before any step sees them. */
export type AnyAction = Action<unknown>;

export function defineAction<A>(a: Action<A>): AnyAction {
  return a as unknown as AnyAction;
}
