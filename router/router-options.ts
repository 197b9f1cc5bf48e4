// Router options: defaults applied once, compiled into a required shape.
import type { ActionRegistry } from '../actions/registry.js';
import type { DiscoveryMap } from '../core/discovery/discovery.js';
import type { Logger } from '../core/logger.js';
import type { QueueNames } from '../core/queue/queue-names.js';
import type { TaskStore } from '../core/task/task-store.js';
import type { WorkQueue } from '../core/queue/work-queue.js';
import { OptionError } from '../core/errors.js';

export interface RouterOptions {
  queue: WorkQueue;
  store: TaskStore;
  names: QueueNames;
  /** Validates action names and arguments before anything is fanned out. */
  registry: ActionRegistry;
  discovery: DiscoveryMap;
  logger: Logger;
  /** Long-poll wait on the global queue, seconds (0-20). Default 20. */
  waitSec?: number;
  /** Visibility of a global message while it is routed, seconds. Default 60. */
  visibilitySec?: number;
  /** Messages routed at once. Default 4. */
  concurrency?: number;
  /**
   * SQS calls in flight during one fan-out (one work item per node queue, so one call per node). Default 50:
   * the AWS SDK's own socket pool size; a 1,000-node fan-out is then ~20 round trips deep.
   */
  fanoutConcurrency?: number;
  /** Visibility timeout given to the cluster and node queues the router creates, seconds. Default 60. */
  workVisibilitySec?: number;
  /** Redrive backstop for every queue: receives before SQS moves a message to the dead-letter queue. Default 10. */
  maxReceiveCount?: number;
  /** When another router is fanning a task out, look at its message again after this many seconds. Default 10. */
  busyRetrySec?: number;
}

export type CompiledRouterOptions = Required<RouterOptions>;

export function compileRouterOptions(o: RouterOptions): CompiledRouterOptions {
  const c: CompiledRouterOptions = {
    waitSec: 20,
    visibilitySec: 60,
    concurrency: 4,
    fanoutConcurrency: 50,
    workVisibilitySec: 60,
    maxReceiveCount: 10,
    busyRetrySec: 10,
    ...o,
  };
  if (c.waitSec < 0 || c.waitSec > 20) throw new OptionError('waitSec', 'must be 0-20 seconds (the SQS long-poll limit)');
  if (c.concurrency < 1) throw new OptionError('concurrency', 'must be 1 or more');
  if (c.fanoutConcurrency < 1) throw new OptionError('fanoutConcurrency', 'must be 1 or more');
  if (c.maxReceiveCount < 1 || c.maxReceiveCount > 1000) throw new OptionError('maxReceiveCount', 'must be 1-1000 (SQS limit)');
  return c;
}
