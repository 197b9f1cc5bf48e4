// The FIFO m-of-n slots (core/lease.ts) against the shared real ZooKeeper server: the lease contract, each
// test under a fresh root (removed afterwards), each requester with its own session. Expiry is forced the
// way test/integration/zk-coordinator.test.ts does it (the session is taken over and closed from a second
// connection); a suspension is a dropped TCP connection, after which the client reconnects to the same
// session by itself.
import net from 'node:net';
import type { Coordinator } from '../../core/coordinator.js';
import { createLibraryClient, ZkCoordinator } from '../../core/zk-coordinator.js';
import type { ZkClient } from '../../core/zk-coordinator-options.js';
import { within } from '../contract/coordinator.contract.js';
import { leaseContract } from '../contract/lease.contract.js';
import { freshZkRoot, requireZk } from '../support/env.js';

const CLOSE_SESSION_OP = -11;

/** Same as in zk-coordinator.test.ts: attach a raw connection to the session and close it from there. */
function forceExpire(connectionString: string, sessionId: Buffer, password: Buffer): Promise<void> {
  const [host = '127.0.0.1', port = '2181'] = (connectionString.split(',')[0] ?? '').split('/')[0]?.split(':') ?? [];
  const connect = Buffer.alloc(4 + 4 + 8 + 4 + 8 + 4 + password.length + 1);
  let o = connect.writeInt32BE(connect.length - 4, 0);
  o = connect.writeInt32BE(0, o); // protocol version
  o = connect.writeBigInt64BE(0n, o); // last zxid seen
  o = connect.writeInt32BE(10_000, o); // session timeout
  o += sessionId.copy(connect, o);
  o = connect.writeInt32BE(password.length, o);
  o += password.copy(connect, o);
  connect.writeUInt8(0, o); // read-only: no
  const close = Buffer.alloc(12);
  close.writeInt32BE(8, 0);
  close.writeInt32BE(1, 4); // xid
  close.writeInt32BE(CLOSE_SESSION_OP, 8);

  return within(
    new Promise<void>((resolve, reject) => {
      const sock = net.connect({ host, port: Number(port) }, () => sock.write(Buffer.concat([connect, close])));
      sock.on('data', () => undefined);
      sock.on('error', reject);
      sock.on('close', () => resolve());
    }),
    'the server to close the expiring session',
  );
}

/** node-zookeeper-client 1.1.3 keeps its socket on the connection manager; destroying it is a network blip. */
function dropConnection(client: ZkClient): void {
  const cm = (client as unknown as { connectionManager?: { socket?: { destroy(): void } } }).connectionManager;
  if (!cm?.socket) throw new Error('node-zookeeper-client internals changed: no connectionManager.socket');
  cm.socket.destroy();
}

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
        await forceExpire(zk, cl.getSessionId(), cl.getSessionPassword());
      },
      suspend: (c) => dropConnection(client(c)),
      // The library reconnects on its own (within reconnectDelayMs) and finds its session alive.
      resume: () => undefined,
    };
  });
});
