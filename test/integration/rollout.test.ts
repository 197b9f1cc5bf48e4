// The end-to-end scenarios against a real ZooKeeper server and a real SQS-protocol server (fauxqs), both
// on loopback ports started by the global setup: 20 runner instances, limit 3.
import { ZkCoordinator } from '../../core/zk-coordinator.js';
import { SqsWorkQueue } from '../../core/sqs-work-queue.js';
import { rolloutScenarios } from '../contract/rollout.scenarios.js';
import { freshQueuePrefix, freshZkRoot, testSqsEndpoint, testZk } from '../support/env.js';

const describeZk = testZk() || process.env.CI ? describe : describe.skip;

describeZk('integration: real ZooKeeper + SQS server', () => {
  rolloutScenarios('ZooKeeper + fauxqs', {
    backend: async () => {
      const zk = testZk() as string;
      const endpoint = testSqsEndpoint();
      const admin = await ZkCoordinator.connect({ connectionString: zk });
      const roots: string[] = [];
      return {
        queue: () => new SqsWorkQueue({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
        session: () => ZkCoordinator.connect({ connectionString: zk, sessionTimeoutMs: 4000 }),
        cleanup: async () => {
          for (const r of roots) await admin.removeRecursive(r);
          await admin.close();
        },
      };
    },
    zkRoot: freshZkRoot,
    queuePrefix: freshQueuePrefix,
    nodes: 20,
    limit: 3,
  });
});
