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
   * The grant's token (the cluster budget's counter at the grant). It only grows, so a side effect that can
   * check it (e.g. a conditional write that refuses a token lower than the last one seen) is fenced against a
   * runner whose grant was released under it.
   */
  fencingToken: number;
  /** Aborts on timeout, on cancellation, on shutdown, and when the node's grant is released by someone else. */
  signal: AbortSignal;
  /** Child logger with task_id, node, cluster and action bound. */
  logger: Logger;
  /** Tell the runner the action is alive (extends the message's invisibility early). */
  heartbeat(): void;
  /**
   * The earlier attempts of this task on this node, oldest first, as recorded in ZooKeeper: an attempt whose
   * runner died (a reboot) shows up with `interrupted: true`. Empty on the first attempt.
   */
  history: readonly AttemptInfo[];
  /** The node's grant from its cluster's budget: it outlives the runner (a reboot keeps it). */
  grant: GrantInfo;
  /**
   * Facts an attempt records before a step that cannot be undone, kept in ZooKeeper with the node record, so
   * a retried or resumed attempt (after a reboot, a runner crash or a redelivery) knows what was already done:
   * `await ctx.checkpoint.set('boot_id_before', id)` before rebooting, `ctx.checkpoint.get('boot_id_before')`
   * after. Values are JSON; keep them small (the whole checkpoint is bounded at 4 KiB).
   */
  checkpoint: ActionCheckpoint;
}

export interface AttemptInfo {
  attempt: number;
  startedAt: string;
  endedAt?: string;
  error?: string;
  /** The runner stopped during this attempt (crash, reboot, kill): its steps may have run partly or fully. */
  interrupted: boolean;
}

export interface GrantInfo {
  /** Fencing token: grows with every grant of the cluster. */
  token: number;
  /** When the grant was given (ISO-8601): before this attempt if the node was granted before a reboot. */
  grantedAt: string;
  taskId: string;
}

export interface ActionCheckpoint {
  get<T = unknown>(key: string): T | undefined;
  /** Written before it resolves; throws when the record cannot be written (the step must not go on). */
  set(key: string, value: unknown): Promise<void>;
}

export type Step<A> = (ctx: ActionContext<A>) => Promise<void>;

/** What `defer` sees: no grant yet, so no fencing token, checkpoint or heartbeat. */
export type DeferContext<A = Record<string, unknown>> = Pick<ActionContext<A>, 'taskId' | 'cluster' | 'node' | 'args' | 'signal' | 'logger'>;

export interface Action<A = Record<string, unknown>> {
  /** e.g. "sleep", "cassandra:restart". */
  name: string;
  /** The contract version a spec must name. */
  version: number;
  description: string;
  args: z.ZodType<A>;
  /**
   * Asked before the node asks for a grant, and again after each wait: a reason to let other nodes go
   * first (a ZooKeeper leader waits until the followers of its task are done), or undefined to go ahead.
   * It must not change anything, and it is advice: pre_check still decides after the grant.
   */
  defer?: (ctx: DeferContext<A>) => Promise<string | undefined>;
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
