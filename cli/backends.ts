// Connecting the real backends for a command: ZooKeeper (task records, slots, membership) and SQS (queues).
// Built only here and in the embedded mode; daemons receive them through their options.
import type { CommonConfig } from './config.js';
import type { Coordinator } from '../core/coordination/coordinator.js';
import type { Logger } from '../core/logger.js';
import { queueNames, type QueueNames } from '../core/queue/queue-names.js';
import { SqsWorkQueue } from '../core/queue/sqs-work-queue.js';
import { TaskStore } from '../core/task/task-store.js';
import { ZkCoordinator } from '../core/coordination/zk-coordinator.js';
import type { WorkQueue } from '../core/queue/work-queue.js';

export interface Backends {
  queue: WorkQueue;
  names: QueueNames;
  store: TaskStore;
  close(): Promise<void>;
}

export async function connectZk(cfg: CommonConfig, logger: Logger): Promise<Coordinator> {
  return ZkCoordinator.connect({ connectionString: cfg.zk, logger: logger.child({ component: 'zookeeper' }) });
}

export function openQueue(cfg: CommonConfig): WorkQueue {
  return new SqsWorkQueue({ region: cfg.region, ...(cfg.sqsEndpoint ? { endpoint: cfg.sqsEndpoint } : {}) });
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
