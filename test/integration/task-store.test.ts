import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { taskStoreContract } from '../contract/task-store.contract.js';
import { taskRecordingContract } from '../contract/task-recording.contract.js';
import { bigTaskScenarios } from '../contract/big-task.scenarios.js';
import { freshZkRoot, requireZk, testZk } from '../support/env.js';

describe('integration: task store on ZooKeeper', function () {
  before(function () {
    requireZk(this);
  });
  taskStoreContract('ZooKeeper', async () => {
    const root = freshZkRoot();
    return {
      open: () => ZkCoordinator.connect({ connectionString: testZk() as string }),
      root,
      cleanup: async () => {
        const admin = await ZkCoordinator.connect({ connectionString: testZk() as string });
        await admin.removeRecursive(root);
        await admin.close();
      },
    };
  });
  taskRecordingContract('ZooKeeper', async () => {
    const root = freshZkRoot();
    return {
      open: () => ZkCoordinator.connect({ connectionString: testZk() as string }),
      root,
      cleanup: async () => {
        const admin = await ZkCoordinator.connect({ connectionString: testZk() as string });
        await admin.removeRecursive(root);
        await admin.close();
      },
    };
  });
  bigTaskScenarios('ZooKeeper', async () => {
    const root = freshZkRoot();
    return {
      open: () => ZkCoordinator.connect({ connectionString: testZk() as string }),
      root,
      cleanup: async () => {
        const admin = await ZkCoordinator.connect({ connectionString: testZk() as string });
        await admin.removeRecursive(root);
        await admin.close();
      },
    };
  });
});
