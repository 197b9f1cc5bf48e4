// The FIFO m-of-n slots (core/coordination/lease.ts) on the in-memory Coordinator: the shared lease contract, with the
// store's hooks for expiry and for a suspended connection.
import type { Coordinator } from '../../core/coordination/coordinator.js';
import { MemoryCoordinatorStore, type MemoryCoordinator } from '../../core/coordination/memory-coordinator.js';
import { leaseContract } from '../contract/lease.contract.js';

leaseContract('MemoryCoordinator', async () => {
  const store = new MemoryCoordinatorStore();
  return {
    root: '/t',
    open: async (): Promise<Coordinator> => store.session(),
    cleanup: () => store.stop(),
    expire: (c) => store.expire(c as MemoryCoordinator),
    suspend: (c) => store.suspend(c as MemoryCoordinator),
    resume: (c) => store.resume(c as MemoryCoordinator),
  };
});
