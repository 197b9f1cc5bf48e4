// The end-to-end scenarios on the in-memory backends (fast; the same scenarios run on real ZooKeeper and
// SQS in test/integration/rollout.test.ts).
import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { budgetScenarios, controlScenarios, rolloutScenarios, targetScenarios, type ScenarioSetup } from '../contract/rollout.scenarios.js';
import { freshQueuePrefix, freshZkRoot } from '../support/env.js';

const setup: ScenarioSetup = {
  backend: async () => {
    const queues = new MemoryQueueStore();
    const zk = new MemoryCoordinatorStore();
    return {
      queue: () => new MemoryWorkQueue({ store: queues }),
      session: async () => zk.session(),
      cleanup: async () => {
        await zk.stop();
      },
    };
  },
  zkRoot: freshZkRoot,
  queuePrefix: freshQueuePrefix,
  nodes: 12,
  limit: 3,
};
rolloutScenarios('in-memory queue and coordinator', setup);
controlScenarios('in-memory queue and coordinator', setup);
targetScenarios('in-memory queue and coordinator', setup);
budgetScenarios('in-memory queue and coordinator', setup);
