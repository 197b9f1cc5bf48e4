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

export interface OpenOptions {
  /**
   * The queues the command is about to send to (`run --wait` and `submit --wait`: the global queue). The
   * SQS adapter (the AWS SDK, ~80 ms to load) is loaded and their URLs looked up while ZooKeeper connects,
   * instead of after it; the send joins the lookup. Nothing is reported from here: a failure is the send's.
   */
  sendsTo?: (names: QueueNames) => string[];
}

/**
 * Starts loading the SQS adapter and looking up `queue`'s URL, without waiting for either. Never rejects: a
 * missing queue or an unreachable SQS is reported by the call that needs the queue.
 */
export function warmQueue(queue: WorkQueue, name: string): void {
  queue.exists(name).catch(() => undefined);
}

/** Opens ZooKeeper and the SQS queue (loaded on its first call, or at once for `sendsTo`). */
export async function openBackends(cfg: CommonConfig, logger: Logger, opts: OpenOptions = {}): Promise<Backends> {
  const queue = openQueue(cfg);
  const names = queueNames(cfg.queuePrefix);
  for (const name of opts.sendsTo?.(names) ?? []) warmQueue(queue, name);
  let coordinator: Coordinator;
  try {
    coordinator = await connectZk(cfg, logger);
  } catch (err) {
    await queue.close();
    throw err;
  }
  const store = new TaskStore(coordinator, cfg.zkRoot);
  return {
    queue,
    names,
    store,
    close: async () => {
      await Promise.allSettled([queue.close(), coordinator.close()]);
    },
  };
}
