// Runner options: defaults applied once, validated, compiled into a required shape (durations in ms).
import type { ActionRegistry } from '../actions/registry.js';
import { systemClock, type Clock } from '../core/clock.js';
import { OptionError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { QueueNames } from '../core/queue/queue-names.js';
import type { TaskStore } from '../core/task/task-store.js';
import type { WorkQueue } from '../core/queue/work-queue.js';
import type { HealthChecks } from '../core/budget/health-check.js';

export interface RunnerOptions {
  cluster: string;
  /** The name this node has in the cluster's targets (must match what discovery returns). */
  node: string;
  queue: WorkQueue;
  store: TaskStore;
  names: QueueNames;
  registry: ActionRegistry;
  logger: Logger;
  clock?: Clock;
  /** Long-poll wait, seconds (0-20). Default 20. */
  waitSec?: number;
  /**
   * Visibility timeout of a message in hand, seconds. Default 60. The runner extends it every third of
   * that while it waits for a slot or works, so a live runner never loses its message; a dead one's
   * message comes back after at most this long.
   */
  visibilitySec?: number;
  /** Pause before retrying when a queue does not exist yet or a backend call failed, ms. Default 2000. */
  retryPauseMs?: number;
  /** Longest backoff between attempts of a node, ms. Default 15 min. */
  maxBackoffMs?: number;
  /** On stop, how long an action in flight may run before it is aborted, ms. Default 10 min. */
  drainTimeoutMs?: number;
  /** Outside a task's maintenance window, look again this often, ms. Default 30 s. */
  windowRecheckMs?: number;
  /** While an action defers its node (Action.defer), ask it again this often, ms. Default 2 s. */
  deferRecheckMs?: number;
  /** Jitter source, injected in tests. */
  random?: () => number;
  /** Version string recorded in the membership znode. */
  version?: string;
  /** This node's zone (rack, availability zone): the cluster budget's zone_budget counts by it. */
  zone?: string;
  /** Health checks of this node's local config, run by the cluster's keeper for a policy's health gate. */
  checks?: HealthChecks;
  /** Work items (of different tasks) held at once, each waiting for the node's grant. Default 8. */
  maxItems?: number;
  /** The budget keeper re-evaluates at least this often, ms. Default 5 s. */
  keeperTickMs?: number;
  /** A DEAD node's grant: its action's post_check runs again this often, and the grant goes back when it passes, ms. Default 60 s. */
  deadRecheckMs?: number;
}

export type CompiledRunnerOptions = Required<Omit<RunnerOptions, 'zone'>> & { zone: string | undefined };

export function compileRunnerOptions(o: RunnerOptions): CompiledRunnerOptions {
  const c: CompiledRunnerOptions = {
    clock: systemClock,
    waitSec: 20,
    visibilitySec: 60,
    retryPauseMs: 2000,
    maxBackoffMs: 15 * 60_000,
    drainTimeoutMs: 10 * 60_000,
    random: Math.random,
    windowRecheckMs: 30_000,
    deferRecheckMs: 2_000,
    version: '0',
    zone: undefined,
    checks: {},
    maxItems: 8,
    keeperTickMs: 5000,
    deadRecheckMs: 60_000,
    ...o,
  };
  if (!Number.isInteger(c.maxItems) || c.maxItems < 1 || c.maxItems > 64) throw new OptionError('maxItems', 'must be 1-64 work items');
  if (!c.cluster) throw new OptionError('cluster', 'is required: the cluster this node belongs to');
  if (!c.node) throw new OptionError('node', 'is required: the name of this node in its cluster');
  if (c.waitSec < 0 || c.waitSec > 20) throw new OptionError('waitSec', 'must be 0-20 seconds (the SQS long-poll limit)');
  if (c.visibilitySec < 3 || c.visibilitySec > 43_200) throw new OptionError('visibilitySec', 'must be 3-43200 seconds');
  return c;
}
