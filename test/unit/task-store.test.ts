import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { taskStoreContract } from '../contract/task-store.contract.js';
import { taskRecordingContract } from '../contract/task-recording.contract.js';
import { bigTaskScenarios } from '../contract/big-task.scenarios.js';
import { freshZkRoot } from '../support/env.js';

taskStoreContract('in-memory', async () => {
  const store = new MemoryCoordinatorStore();
  return { open: async () => store.session(), root: freshZkRoot(), cleanup: () => store.stop() };
});

taskRecordingContract('in-memory', async () => {
  const store = new MemoryCoordinatorStore();
  return { open: async () => store.session(), root: freshZkRoot(), cleanup: () => store.stop() };
});

bigTaskScenarios('in-memory', async () => {
  const store = new MemoryCoordinatorStore();
  return { open: async () => store.session(), root: freshZkRoot(), cleanup: () => store.stop() };
});
