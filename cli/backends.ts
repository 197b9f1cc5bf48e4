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

/** Opens what a command needs: `zk: false` for commands that only send to SQS. */
export async function openBackends(cfg: CommonConfig, logger: Logger): Promise<Backends> {
  const queue = openQueue(cfg);
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
    names: queueNames(cfg.queuePrefix),
    store,
    close: async () => {
      await Promise.allSettled([queue.close(), coordinator.close()]);
    },
  };
}
