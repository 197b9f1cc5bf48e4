// The end-to-end scenarios against a real ZooKeeper server and a real SQS-protocol server (fauxqs), both
// on loopback ports started by the global setup: 20 runner instances, limit 3.
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { budgetScenarios, controlScenarios, rolloutScenarios, targetScenarios, type ScenarioSetup } from '../contract/rollout.scenarios.js';
import { freshQueuePrefix, freshZkRoot, requireZk, testSqsEndpoint, testZk } from '../support/env.js';

describe('integration: real ZooKeeper + SQS server', function () {
  before(function () {
    requireZk(this);
  });
  const setup: ScenarioSetup = {
    backend: async (root) => {
      const zk = testZk() as string;
      const endpoint = testSqsEndpoint();
      const admin = await ZkCoordinator.connect({ connectionString: zk });
      return {
        queue: () => new SqsWorkQueue({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
        session: () => ZkCoordinator.connect({ connectionString: zk, sessionTimeoutMs: 4000 }),
        cleanup: async () => {
          await admin.removeRecursive(root);
          await admin.close();
        },
      };
    },
    zkRoot: freshZkRoot,
    queuePrefix: freshQueuePrefix,
    nodes: 20,
    limit: 3,
  };
  rolloutScenarios('ZooKeeper + fauxqs', setup);
  controlScenarios('ZooKeeper + fauxqs', setup);
  targetScenarios('ZooKeeper + fauxqs', setup);
  budgetScenarios('ZooKeeper + fauxqs', setup);
});
