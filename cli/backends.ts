// Connecting the real backends for a command: ZooKeeper (task records, slots, membership) and SQS (queues).
// Built only here and in the embedded mode; daemons receive them through their options. The ZooKeeper client
// and the AWS SDK are imported when first used, not when a command module loads (see cli/program.ts).
import type { CommonConfig } from './config.js';
import type { Coordinator } from '../core/coordination/coordinator.js';
import type { Logger } from '../core/logger.js';
import { LazyWorkQueue } from '../core/queue/lazy-work-queue.js';
import { queueNames, type QueueNames } from '../core/queue/queue-names.js';
import { TaskStore } from '../core/task/task-store.js';
import type { WorkQueue } from '../core/queue/work-queue.js';

export interface Backends {
  queue: WorkQueue;
  names: QueueNames;
  store: TaskStore;
  close(): Promise<void>;
}

export async function connectZk(cfg: CommonConfig, logger: Logger): Promise<Coordinator> {
  const { ZkCoordinator } = await import('../core/coordination/zk-coordinator.js');
  return ZkCoordinator.connect({ connectionString: cfg.zk, logger: logger.child({ component: 'zookeeper' }) });
}

/** The SQS queue; the SDK is loaded on its first call, so a command that never reaches SQS never loads it. */
export function openQueue(cfg: CommonConfig): WorkQueue {
  return new LazyWorkQueue(async () => {
    const { SqsWorkQueue } = await import('../core/queue/sqs-work-queue.js');
    return new SqsWorkQueue({ region: cfg.region, ...(cfg.sqsEndpoint ? { endpoint: cfg.sqsEndpoint } : {}) });
  });
}

/**
 * Backends being opened: the SQS queue is usable at once (the SDK loads on its first call), ZooKeeper is still
 * connecting. `run --wait` and `submit --wait` send their task meanwhile and wait for the session only to
 * follow it: the connect overlaps the SDK's load and the send instead of coming before them.
 */
export interface StartedBackends {
  queue: WorkQueue;
  names: QueueNames;
  /** The session; rejects (with the connect's error) if ZooKeeper cannot be reached. */
  coordinator: Promise<Coordinator>;
  /** Closes the queue, and the session once it is up (or its connect has failed). */
  close(): Promise<void>;
}

/**
 * Starts loading the SQS adapter and looking up `queue`'s URL, without waiting for either. Never rejects: a
 * missing queue or an unreachable SQS is reported by the call that needs the queue.
 */
export function warmQueue(queue: WorkQueue, name: string): void {
  queue.exists(name).catch(() => undefined);
}

/**
 * Starts connecting to ZooKeeper and, for the queues in `sendsTo`, loading the SQS adapter (the AWS SDK, ~80 ms)
 * and looking up their URLs, all at once; nothing is awaited.
 */
export function startBackends(cfg: CommonConfig, logger: Logger, sendsTo: (names: QueueNames) => string[] = () => []): StartedBackends {
  const queue = openQueue(cfg);
  const names = queueNames(cfg.queuePrefix);
  const coordinator = connectZk(cfg, logger);
  // Awaited by whoever needs the session; a failed connect must not count as an unhandled rejection before.
  coordinator.catch(() => undefined);
  for (const name of sendsTo(names)) warmQueue(queue, name);
  return {
    queue,
    names,
    coordinator,
    close: async () => {
      await Promise.allSettled([queue.close(), coordinator.then((c) => c.close())]);
    },
  };
}

/** Opens ZooKeeper and the SQS queue (loaded on its first call). */
export async function openBackends(cfg: CommonConfig, logger: Logger): Promise<Backends> {
  const started = startBackends(cfg, logger);
  let coordinator: Coordinator;
  try {
    coordinator = await started.coordinator;
  } catch (err) {
    await started.close();
    throw err;
  }
  return { queue: started.queue, names: started.names, store: new TaskStore(coordinator, cfg.zkRoot), close: started.close };
}
