// The ZooKeeper Coordinator against a real server: the shared contract (with real session expiry), plus
// what only a real server shows: a server restart (suspended, then reconnected, ephemerals and watches
// intact), a crashed client (ephemerals outlive it until the session timeout), and an unreachable server.
import assert from 'node:assert/strict';
import net from 'node:net';
import { CoordinatorError, type Coordinator } from '../../core/coordinator.js';
import { BackendError } from '../../core/errors.js';
import { createLibraryClient, ZkCoordinator } from '../../core/zk-coordinator.js';
import type { ZkClient, ZkCoordinatorOptions } from '../../core/zk-coordinator-options.js';
import { coordinatorContract, recordingWatcher, stateRecorder, within } from '../contract/coordinator.contract.js';
import { freshZkRoot, requireZk } from '../support/env.js';
import { freePort, startZkServer, zookeeperAvailable, type ZkServer } from '../support/zk-server.js';

const CLOSE_SESSION_OP = -11;

/**
 * Expires a session the way ZooKeeper's own tests do: attach a second connection to it with its id and
 * password, and close it from there (the caller keeps the original client from reattaching meanwhile, or
 * it can win the session back before the CloseSession is processed, which then fails as SESSION_MOVED).
 * Raw jute rather than node-zookeeper-client: the library throws from its socket handler on server error
 * codes it does not know (SESSION_MOVED is one), which would crash the test process.
 */
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

/**
 * Holds the reconnection attempts of a node-zookeeper-client 1.1.3 client (through its connection manager,
 * as the adapter's own `createLibraryClient` does) until the returned function is called.
 */
function holdReconnects(client: ZkClient): () => void {
  const cm = (client as unknown as { connectionManager: { connect: () => void } }).connectionManager;
  const connect = cm.connect;
  let wanted = false;
  cm.connect = () => {
    wanted = true;
  };
  return () => {
    cm.connect = connect;
    if (wanted) connect.call(cm);
  };
}

function zkContract(connectionString: () => string): void {
  coordinatorContract('ZkCoordinator', async () => {
    const opened: ZkCoordinator[] = [];
    const clientOf = new Map<Coordinator, () => ZkClient | undefined>();
    const open = async (): Promise<Coordinator> => {
      let latest: ZkClient | undefined;
      const c = await ZkCoordinator.connect({
        connectionString: connectionString(),
        clientFactory: (conn, opts) => (latest = createLibraryClient(conn, opts)),
      });
      opened.push(c);
      clientOf.set(c, () => latest);
      return c;
    };
    return {
      root: freshZkRoot(),
      open,
      cleanup: async () => {
        await Promise.all(opened.map((c) => c.close()));
      },
      expire: async (c) => {
        const client = clientOf.get(c)?.();
        if (!client) throw new Error('not a coordinator of this test');
        const release = holdReconnects(client);
        try {
          await forceExpire(connectionString(), client.getSessionId(), client.getSessionPassword());
        } finally {
          release();
        }
      },
    };
  });
}

describe('ZkCoordinator (integration)', function () {
  let shared = '';
  before(function () {
    shared = requireZk(this);
  });

  zkContract(() => shared);

  describe('crash and reachability', function () {
    const opened: ZkCoordinator[] = [];
    const connect = async (opts: Partial<ZkCoordinatorOptions> = {}): Promise<ZkCoordinator> => {
      const c = await ZkCoordinator.connect({ connectionString: shared, ...opts });
      opened.push(c);
      return c;
    };
    let root = '';
    beforeEach(async function () {
      root = freshZkRoot();
      await (await connect()).mkdirp(root);
    });
    afterEach(async function () {
      await (await connect()).removeRecursive(root);
      await Promise.all(opened.splice(0).map((c) => c.close()));
    });

    it('kill() leaves the session to expire: its ephemerals go only after the session timeout', async function () {
      const victim = await connect({ sessionTimeoutMs: 2_000 });
      const path = await victim.create(`${root}/member`, undefined, 'ephemeral');
      const observer = await connect();
      victim.kill();
      const gone = recordingWatcher();
      assert.equal((await observer.exists(path, gone.watcher))?.ephemeralOwner, victim.sessionId, 'gone at once: the session was closed, not dropped');
      assert.deepEqual(await within(gone.next, 'the expiry of the killed session'), { type: 'deleted', path });
      await assert.rejects(victim.get(path), (e: unknown) => e instanceof CoordinatorError && e.code === 'CLOSED');
    });

    it('connect() to a port with nothing listening rejects with BackendError within the connect timeout', async function () {
      const port = await freePort();
      const started = Date.now();
      await assert.rejects(ZkCoordinator.connect({ connectionString: `127.0.0.1:${port}`, connectTimeoutMs: 1_000 }), (err: unknown) => {
        assert.ok(err instanceof BackendError, String(err));
        assert.equal(err.backend, 'zookeeper');
        assert.equal(err.code, 'BACKEND_UNAVAILABLE');
        assert.equal(err.message, `cannot reach ZooKeeper at 127.0.0.1:${port} within 1s`);
        assert.equal(err.hint, 'check --zk / TASKERMAN_ZK');
        return true;
      });
      assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
    });
  });
});

describe('ZkCoordinator across a ZooKeeper restart', function () {
  let server: ZkServer | undefined;
  const opened: ZkCoordinator[] = [];
  before(async function () {
    if (!zookeeperAvailable()) this.skip();
    server = await startZkServer();
  });
  after(async function () {
    await Promise.all(opened.map((c) => c.close()));
    await server?.stop();
  });

  it('a restart shorter than the session timeout: suspended, then reconnected; ephemerals and watches survive', async function () {
    const srv = server as ZkServer;
    const c = await ZkCoordinator.connect({ connectionString: srv.connectionString, sessionTimeoutMs: 20_000, reconnectDelayMs: 100 });
    opened.push(c);
    const id = c.sessionId;
    const member = await c.create('/member', Buffer.from('me'), 'ephemeral');
    const w = recordingWatcher();
    assert.equal(await c.exists('/later', w.watcher), undefined);
    const states = stateRecorder(c);

    await srv.restart();
    await within(states.until('suspended'), "'suspended'");
    await within(states.until('reconnected'), "'reconnected'", 20_000);
    assert.deepEqual(states.states, ['suspended', 'reconnected']);
    assert.equal(c.sessionId, id);

    const other = await ZkCoordinator.connect({ connectionString: srv.connectionString });
    opened.push(other);
    assert.equal((await other.exists(member))?.ephemeralOwner, id);
    // The watch set before the restart was re-registered on the new connection.
    await other.create('/later');
    assert.deepEqual(await within(w.next, 'the watch set before the restart'), { type: 'created', path: '/later' });
  });
});
