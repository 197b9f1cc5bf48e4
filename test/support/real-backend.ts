// The harness backend on the real servers the global setup started: a ZooKeeper session and an SQS client
// per simulated process, the test's ZooKeeper root removed afterwards.
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { testSqsEndpoint, testZk } from './env.js';
import type { Backend } from './harness.js';

export function realQueue(): SqsWorkQueue {
  return new SqsWorkQueue({ endpoint: testSqsEndpoint(), region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

export async function realBackend(root: string): Promise<Backend> {
  const zk = testZk();
  if (!zk) throw new Error('no test ZooKeeper (requireZk first)');
  const admin = await ZkCoordinator.connect({ connectionString: zk });
  return {
    queue: () => realQueue(),
    session: () => ZkCoordinator.connect({ connectionString: zk, sessionTimeoutMs: 4000 }),
    cleanup: async () => {
      await admin.removeRecursive(root);
      await admin.close();
    },
  };
}
