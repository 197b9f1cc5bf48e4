// The FIFO m-of-n slots (core/coordination/lease.ts) against the shared real ZooKeeper server: the lease contract, each
// test under a fresh root (removed afterwards), each requester with its own session. Expiry is forced the
// way test/integration/zk-coordinator.test.ts does it (the session is taken over and closed from a second
// connection); a suspension is a dropped TCP connection, after which the client reconnects to the same
// session by itself.
import type { Coordinator } from '../../core/coordination/coordinator.js';
import { createLibraryClient, ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import type { ZkClient } from '../../core/coordination/zk-coordinator-options.js';
import { leaseContract } from '../contract/lease.contract.js';
import { freshZkRoot, requireZk } from '../support/env.js';
import { dropConnection, expireSession } from '../support/zk-session.js';

describe('Semaphore on ZooKeeper (integration)', function () {
  let zk = '';
  before(function () {
    zk = requireZk(this);
  });

  leaseContract('ZkCoordinator', async () => {
    const opened: ZkCoordinator[] = [];
    const clientOf = new Map<Coordinator, () => ZkClient | undefined>();
    const client = (c: Coordinator): ZkClient => {
      const cl = clientOf.get(c)?.();
      if (!cl) throw new Error('not a coordinator of this test');
      return cl;
    };
    return {
      root: freshZkRoot(),
      open: async (): Promise<Coordinator> => {
        let latest: ZkClient | undefined;
        const c = await ZkCoordinator.connect({
          connectionString: zk,
          reconnectDelayMs: 100,
          clientFactory: (conn, opts) => (latest = createLibraryClient(conn, opts)),
        });
        opened.push(c);
        clientOf.set(c, () => latest);
        return c;
      },
      cleanup: async () => {
        await Promise.all(opened.map((c) => c.close()));
      },
      expire: async (c) => {
        const cl = client(c);
        await expireSession(zk, cl);
      },
      suspend: (c) => dropConnection(client(c)),
      // The library reconnects on its own (within reconnectDelayMs) and finds its session alive.
      resume: () => undefined,
    };
  });
});
