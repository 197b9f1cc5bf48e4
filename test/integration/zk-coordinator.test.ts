// The ZooKeeper Coordinator against a real server: the shared contract (with real session expiry), plus
// what only a real server shows: a server restart (suspended, then reconnected, ephemerals and watches
// intact), a crashed client (ephemerals outlive it until the session timeout), and an unreachable server.
// Last, the session state machine driven by a scripted client, for what no server does on cue.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { CoordinatorError, type Coordinator } from '../../core/coordination/coordinator.js';
import { BackendError } from '../../core/errors.js';
import { createLibraryClient, ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import type { ZkClient, ZkClientFactory, ZkCoordinatorOptions, ZkStat, ZkTransaction } from '../../core/coordination/zk-coordinator-options.js';
import { coordinatorContract, recordingWatcher, stateRecorder, within } from '../contract/coordinator.contract.js';
import { freshZkRoot, requireZk } from '../support/env.js';
import { expireSession } from '../support/zk-session.js';
import { freePort, startZkServer, zookeeperAvailable, type ZkServer } from '../support/zk-server.js';

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
        await expireSession(connectionString(), client);
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

    it('requests made in one turn of the event loop go out in one socket write, in order, each answered', async function () {
      let client: ZkClient | undefined;
      const c = await connect({ clientFactory: (conn, opts) => (client = createLibraryClient(conn, opts)) });
      const socket = (client as unknown as { connectionManager: { socket: { _write: unknown; _writev: unknown } } }).connectionManager.socket;
      const writes: number[] = [];
      for (const k of ['_write', '_writev'] as const) {
        const orig = socket[k] as (this: unknown, chunks: unknown, ...rest: unknown[]) => unknown;
        socket[k] = function (this: unknown, chunks: unknown, ...rest: unknown[]) {
          writes.push(Array.isArray(chunks) ? chunks.length : 1);
          return orig.call(this, chunks, ...rest);
        };
      }
      await c.create(`${root}/a`, Buffer.from('1'), 'persistent');
      writes.length = 0;
      // 50 reads and a write, queued together (a keeper reading its requests, a router recording a task).
      const paths = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? `${root}/a` : `${root}/missing-${i}`));
      const [reads, created] = await Promise.all([Promise.all(paths.map((p) => c.get(p))), c.create(`${root}/b`, Buffer.from('2'), 'persistent')]);
      assert.deepEqual(
        reads.map((d) => d?.data.toString() ?? null),
        paths.map((p) => (p.endsWith('/a') ? '1' : null)),
      );
      assert.equal(created, `${root}/b`);
      assert.equal(writes.reduce((a, b) => a + b, 0), 51, `every request was written: ${writes.join(',')}`);
      assert.ok(writes.length <= 2, `51 requests in ${writes.length} socket writes (${writes.join(',')}); one each before coalescing`);
    });

    it('connect() to a port with nothing listening rejects with BackendError within the connect timeout, and stops trying', async function () {
      const port = await freePort();
      const started = Date.now();
      let destroyed = 0;
      const clientFactory: ZkClientFactory = (conn, opts) => {
        const client = createLibraryClient(conn, opts);
        const destroy = client.destroy.bind(client);
        return Object.assign(client, { destroy: () => (destroyed++, destroy()) });
      };
      const connecting = ZkCoordinator.connect({ connectionString: `127.0.0.1:${port}`, connectTimeoutMs: 1_000, clientFactory });
      await assert.rejects(connecting, (err: unknown) => {
        assert.ok(err instanceof BackendError, String(err));
        assert.equal(err.backend, 'zookeeper');
        assert.equal(err.code, 'BACKEND_UNAVAILABLE');
        assert.equal(err.message, `cannot reach ZooKeeper at 127.0.0.1:${port} within 1s`);
        assert.equal(err.hint, 'check --zk / TASKERMAN_ZK');
        return true;
      });
      assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
      assert.equal(destroyed, 1);
    });
  });
});

/**
 * A loopback server that speaks just enough of the protocol: it accepts any session, then answers every
 * request with the error code `err` (one node-zookeeper-client 1.1.3 does not know).
 */
async function startOddServer(err: number): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buffered = Buffer.alloc(0);
    let greeted = false;
    sock.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32BE(0)) {
        const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0));
        buffered = buffered.subarray(4 + frame.length);
        const reply = Buffer.alloc(greeted ? 4 + 16 : 4 + 4 + 4 + 8 + 4 + 16);
        if (!greeted) {
          greeted = true;
          let o = reply.writeInt32BE(reply.length - 4, 0);
          o = reply.writeInt32BE(0, o); // protocol version
          o = reply.writeInt32BE(10_000, o); // session timeout
          o = reply.writeBigInt64BE(0x42n, o); // session id
          reply.writeInt32BE(16, o); // password: 16 zero bytes
        } else {
          let o = reply.writeInt32BE(16, 0);
          o = reply.writeInt32BE(frame.readInt32BE(0), o); // xid
          o = reply.writeBigInt64BE(1n, o); // zxid
          reply.writeInt32BE(err, o);
        }
        sock.write(reply);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('ZkCoordinator against a server that answers with an unknown error code', function () {
  it('drops the connection (suspended, CONNECTION_LOSS) instead of crashing the process', async function () {
    const THROTTLED = -127;
    const odd = await startOddServer(THROTTLED);
    const c = await ZkCoordinator.connect({ connectionString: `127.0.0.1:${odd.port}`, reconnectDelayMs: 50 });
    try {
      const rec = stateRecorder(c);
      await assert.rejects(c.get('/x'), (e: unknown) => e instanceof CoordinatorError && e.code === 'CONNECTION_LOSS');
      await within(rec.until('suspended'), "'suspended'");
    } finally {
      c.kill();
      await odd.stop();
    }
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

/**
 * The session state machine and the library workarounds, driven through a scripted client (no server):
 * what a real server cannot be made to do on cue (a long outage, a lost connect).
 */
class ScriptedClient extends EventEmitter implements ZkClient {
  destroyed = false;
  closed = false;
  /** Callbacks of the calls the "server" has not answered yet. */
  readonly pending: ((err: unknown) => void)[] = [];
  /** The versions the last committed transaction carried, as the library would send them. */
  committed: (number | undefined)[] = [];

  constructor(
    readonly id: string,
    private readonly timeoutMs: number,
  ) {
    super();
  }
  state(name: string): void {
    this.emit('state', { name, code: 0 });
  }
  connect(): void {}
  close(): void {
    this.closed = true;
    queueMicrotask(() => this.state('DISCONNECTED'));
  }
  destroy(): void {
    this.destroyed = true;
  }
  create(path: string, _data: Buffer, _mode: number, cb: (e: unknown, p: string) => void): void {
    this.pending.push((e) => cb(e, path));
  }
  remove(_path: string, _version: number, cb: (e: unknown) => void): void {
    this.pending.push(cb);
  }
  setData(_path: string, _data: Buffer, _version: number, cb: (e: unknown, st: ZkStat) => void): void {
    this.pending.push((e) => cb(e, SCRIPTED_STAT));
  }
  getData(_path: string, a: unknown, b?: unknown): void {
    this.pending.push((e) => ((b ?? a) as (e: unknown, d: Buffer | null, st: ZkStat) => void)(e, null, SCRIPTED_STAT));
  }
  /** Answers at once: "absent", watch registered. */
  exists(_path: string, a: unknown, b?: unknown): void {
    ((b ?? a) as (e: unknown, st: ZkStat | null) => void)(null, null);
  }
  getChildren(_path: string, a: unknown, b?: unknown): void {
    this.pending.push((e) => ((b ?? a) as (e: unknown, k: string[], st: ZkStat) => void)(e, [], SCRIPTED_STAT));
  }
  transaction(): ZkTransaction {
    const ops: { version?: number }[] = [];
    // Mimics node-zookeeper-client 1.1.3: `version || -1`.
    const tx: ZkTransaction = {
      ops,
      create: () => tx,
      setData: (_p, _d, version) => (ops.push({ version: version || -1 }), tx),
      remove: (_p, version) => (ops.push({ version: version || -1 }), tx),
      check: (_p, version) => (ops.push({ version: version || -1 }), tx),
      commit: (cb) => {
        this.committed = ops.map((o) => o.version);
        cb(null, []);
      },
    };
    return tx;
  }
  getSessionId(): Buffer {
    return Buffer.from(this.id, 'hex');
  }
  getSessionPassword(): Buffer {
    return Buffer.alloc(16);
  }
  getSessionTimeout(): number {
    return this.timeoutMs;
  }
}

const SCRIPTED_STAT: ZkStat = { version: 0, numChildren: 0, ctime: Buffer.alloc(8), mtime: Buffer.alloc(8), ephemeralOwner: Buffer.alloc(8) };

describe('ZkCoordinator session states (scripted client, no server)', function () {
  function scripted(timeoutMs = 10_000) {
    const clients: ScriptedClient[] = [];
    const clientFactory: ZkClientFactory = () => {
      const c = new ScriptedClient((clients.length + 1).toString(16).padStart(16, '0'), timeoutMs);
      clients.push(c);
      return c;
    };
    const last = (): ScriptedClient => {
      const c = clients[clients.length - 1];
      if (!c) throw new Error('no client yet');
      return c;
    };
    const connect = async (opts: Partial<ZkCoordinatorOptions> = {}): Promise<ZkCoordinator> => {
      const p = ZkCoordinator.connect({ connectionString: 'zk.test:2181', clientFactory, sessionTimeoutMs: timeoutMs, ...opts });
      last().state('SYNC_CONNECTED');
      return p;
    };
    return { clients, last, connect, clientFactory };
  }
  const code = (c: CoordinatorError['code']) => (e: unknown) => e instanceof CoordinatorError && e.code === c;

  it('disconnection: suspended, calls in flight and new calls fail with CONNECTION_LOSS; same session back: reconnected', async function () {
    const s = scripted();
    const c = await s.connect();
    const rec = stateRecorder(c);
    const inflight = c.create('/x');
    s.last().state('DISCONNECTED');
    await assert.rejects(inflight, code('CONNECTION_LOSS'));
    await assert.rejects(c.get('/y'), code('CONNECTION_LOSS'));
    s.last().state('SYNC_CONNECTED');
    assert.deepEqual(rec.states, ['suspended', 'reconnected']);
    assert.equal(c.sessionId, s.clients[0]?.id);
    assert.equal(s.clients.length, 1);
  });

  it('expiry: lost, watches fire "session", a new client and session, connected', async function () {
    const s = scripted();
    const c = await s.connect();
    const rec = stateRecorder(c);
    const w = recordingWatcher();
    await c.exists('/w', w.watcher);
    const inflight = c.remove('/z');
    s.last().state('EXPIRED');
    await assert.rejects(inflight, code('SESSION_EXPIRED'));
    assert.deepEqual(rec.states, ['lost']);
    assert.deepEqual(await within(w.next, 'the session watch'), { type: 'session', path: '/w' });
    assert.equal(s.clients.length, 2);
    assert.ok(s.clients[0]?.destroyed);
    await assert.rejects(c.get('/y'), code('CONNECTION_LOSS'));
    s.last().state('SYNC_CONNECTED');
    assert.deepEqual(rec.states, ['lost', 'connected']);
    assert.equal(c.sessionId, s.clients[1]?.id);
    // The old client is not listened to any more.
    s.clients[0]?.state('DISCONNECTED');
    assert.deepEqual(rec.states, ['lost', 'connected']);
  });

  it('suspended for longer than the session timeout: lost without hearing from a server (Curator rule)', async function () {
    const s = scripted(50);
    const c = await s.connect();
    const rec = stateRecorder(c);
    s.last().state('DISCONNECTED');
    await within(rec.until('lost'), "'lost'", 2_000);
    assert.deepEqual(rec.states, ['suspended', 'lost']);
    assert.equal(s.clients.length, 2);
    assert.ok(s.clients[0]?.destroyed);
  });

  it('no connection within connectTimeoutMs: BackendError, the client destroyed', async function () {
    const s = scripted();
    await assert.rejects(ZkCoordinator.connect({ connectionString: 'zk.test:2181', clientFactory: s.clientFactory, connectTimeoutMs: 50 }), (e: unknown) => {
      assert.ok(e instanceof BackendError);
      assert.equal(e.message, 'cannot reach ZooKeeper at zk.test:2181 within 0.05s');
      return true;
    });
    assert.ok(s.clients[0]?.destroyed);
  });

  it('sends version 0 as 0 in a transaction despite the library', async function () {
    const s = scripted();
    const c = await s.connect();
    await c.transaction([
      { op: 'set', path: '/a', data: Buffer.from('x'), version: 0 },
      { op: 'remove', path: '/b', version: 0 },
      { op: 'set', path: '/c', data: Buffer.from('x'), version: 3 },
      { op: 'remove', path: '/d', version: -1 },
      { op: 'check', path: '/e', version: 0 },
    ]);
    assert.deepEqual(s.last().committed, [0, 0, 3, -1, 0]);
  });

  it('maps library error codes', async function () {
    const s = scripted();
    const c = await s.connect();
    const exists = c.create('/e');
    const odd = c.create('/o');
    s.last().pending.shift()?.({ code: -110, name: 'NODE_EXISTS' });
    s.last().pending.shift()?.({ code: -108, name: 'NO_CHILDREN_FOR_EPHEMERALS' });
    await assert.rejects(exists, (e: unknown) => code('NODE_EXISTS')(e) && (e as CoordinatorError).path === '/e');
    await assert.rejects(odd, (e: unknown) => code('OTHER')(e) && /NO_CHILDREN_FOR_EPHEMERALS\[-108\]/.test((e as Error).message));
  });

  it('close(): CloseSession when connected, then CLOSED for every call and no more states', async function () {
    const s = scripted();
    const c = await s.connect();
    const rec = stateRecorder(c);
    await c.close();
    assert.ok(s.last().closed);
    assert.ok(s.last().destroyed);
    await assert.rejects(c.get('/x'), code('CLOSED'));
    s.last().state('EXPIRED');
    assert.deepEqual(rec.states, []);
    assert.equal(s.clients.length, 1);
    await c.close();
  });
});
