// The ZooKeeper adapter of the Coordinator port, on node-zookeeper-client 1.1.3. It owns the session
// lifecycle (Curator-style states, a new session after expiry so the object stays usable), the one-shot
// watch bookkeeping, the translation of library errors into CoordinatorError, and the workarounds for the
// library's traps:
//
// - `Transaction.setData/remove/check` store `version || -1`, so a version-0 CAS in a transaction would
//   silently become "any version": the adapter rewrites the queued version (`pinVersion`).
// - `removeRecursive` lists only one level: the adapter walks the tree itself, depth first.
// - a watch is registered client-side only when its read succeeds; `getData`/`getChildren` on a missing
//   node register nothing, so `get`/`children` fall back to an `exists` watch (fires on creation).
// - watches are never fired on session expiry, and calls queued while disconnected never complete when the
//   session then expires: the adapter tracks both and settles them itself.
// - `close()` on a client that is not connected writes to a dead socket and keeps reconnecting: the adapter
//   only closes a connected client and otherwise tears the connection down (`destroy`).
// - there is no handshake timeout and no read timeout: a server that never answers, or a half-open
//   connection, would hang the client forever (`installWatchdog`).
// - a reply with an error code the library does not know (SESSION_MOVED, THROTTLED, QUOTA_EXCEEDED, ...
//   from newer servers) throws from its socket handler, an uncaught exception that would kill the process:
//   the watchdog turns it into a dropped connection (`suspended`, calls in flight fail, then reconnect).
// - on a reconnect it sends every watch of the session again in one SetWatches request, however big: past
//   jute.maxbuffer (1 MB) the server drops the connection, and the client reconnects and sends it again,
//   without end (ZOOKEEPER-706). The adapter sends it in requests of at most 128 KB of paths, as the Java
//   client does (`splitSetWatches`).
import zookeeper from 'node-zookeeper-client';
import {
  CoordinatorError,
  isNoNode,
  isNodeExists,
  joinPath,
  type Coordinator,
  type CreateMode,
  type NodeData,
  type SessionState,
  type Stat,
  type TxOp,
  type WatchEvent,
  type Watcher,
} from './coordinator.js';
import { BackendError } from '../errors.js';
import {
  compileZkCoordinatorOptions,
  silentZkLogger,
  type CompiledZkCoordinatorOptions,
  type ZkClient,
  type ZkClientOptions,
  type ZkCoordinatorOptions,
  type ZkEvent,
  type ZkLogger,
  type ZkStat,
  type ZkState,
  type ZkTransaction,
} from './zk-coordinator-options.js';

const MODES: Record<CreateMode, number> = {
  persistent: zookeeper.CreateMode.PERSISTENT,
  ephemeral: zookeeper.CreateMode.EPHEMERAL,
  persistent_sequential: zookeeper.CreateMode.PERSISTENT_SEQUENTIAL,
  ephemeral_sequential: zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
};

/** node-zookeeper-client `Exception` codes (ZooKeeper's KeeperException codes). */
const ZK_CODES: Record<number, CoordinatorError['code']> = {
  [-101]: 'NO_NODE',
  [-110]: 'NODE_EXISTS',
  [-103]: 'BAD_VERSION',
  [-111]: 'NOT_EMPTY',
  [-4]: 'CONNECTION_LOSS',
  [-112]: 'SESSION_EXPIRED',
};
const ZK_OK = 0;
/** What ZooKeeper reports for the ops of a failed multi that come after the failing one. */
const ZK_RUNTIME_INCONSISTENCY = -2;

const WATCH_TYPES: Record<string, WatchEvent['type']> = {
  NODE_CREATED: 'created',
  NODE_DELETED: 'deleted',
  NODE_DATA_CHANGED: 'data',
  NODE_CHILDREN_CHANGED: 'children',
};

const EMPTY = Buffer.alloc(0);
/** Children removed in parallel per level by `removeRecursive`. */
const REMOVE_FANOUT = 32;
/** A node that keeps gaining children while we remove it (NOT_EMPTY) is retried this many times. */
const REMOVE_ATTEMPTS = 5;
const MKDIRP_ATTEMPTS = 3;

type Phase = 'connecting' | 'connected' | 'suspended' | 'renewing' | 'closed';

interface WatchEntry {
  readonly path: string;
  readonly watcher: Watcher;
  /** Handed to the library; the same function for every registration of this entry, so it dedupes them. */
  readonly fire: (event: ZkEvent) => void;
  done: boolean;
}

interface ConnectionManagerInternals {
  state: number;
  /** The negotiated timeout once connected, the requested one before. */
  sessionTimeout: number;
  socket?: { destroy(): void; cork?(): void; uncork?(): void };
  /** The queue of requests not yet written; emits 'readable' on every request queued. */
  packetQueue?: { on(event: 'readable', fn: () => void): unknown; removeAllListeners(event: 'readable'): unknown; listenerCount(event: string): number };
  /** Writes every queued request to the socket, one write each. */
  onPacketQueueReadable?: () => void;
  /** Puts a request on the packet queue (and, once written, on the queue of requests awaiting a reply). */
  queue?: (request: unknown, callback?: unknown) => void;
  connect: () => void;
  onSocketConnected: () => void;
  onSocketData: (data: Buffer) => void;
  onSocketClosed: (hadError: boolean) => void;
}

/** ConnectionManager.STATES of node-zookeeper-client 1.1.3. */
const CM_CONNECTING = 1;
const CM_CONNECTED = 2;
const CM_CLOSED = -2;
const WATCHDOG_TICK_MS = 250;

/**
 * node-zookeeper-client 1.1.3 never gives up on a silent server: once the TCP connection is up there is no
 * handshake timeout (a ZooKeeper 3.8 server that is still starting can keep a connection open without ever
 * answering it), and no read timeout while connected (its `readTimeout` is commented out), so a half-open
 * connection would look healthy forever while the server expires the session. This restores the Java
 * client's rules: drop the connection (the library then reconnects) when nothing was heard for 2/3 of the
 * session timeout while connected (the library pings after 1/3 idle), or for 1/3 of it during the handshake.
 */
function installWatchdog(cm: ConnectionManagerInternals, logger: ZkLogger): () => void {
  let lastHeard = Date.now();
  let handshaking = false;
  const { onSocketConnected, onSocketData, onSocketClosed } = cm;
  // The library binds these when it creates each socket, so instance properties take effect from the next one.
  cm.onSocketConnected = function (this: ConnectionManagerInternals) {
    lastHeard = Date.now();
    handshaking = true;
    onSocketConnected.call(this);
  };
  cm.onSocketData = function (this: ConnectionManagerInternals, data: Buffer) {
    lastHeard = Date.now();
    try {
      onSocketData.call(this, data);
    } catch (err) {
      // The reply being parsed is lost and the stream position unknown: only a new connection is safe.
      logger.warn({ err }, 'node-zookeeper-client failed on a server reply; dropping the connection');
      this.socket?.destroy();
      return;
    }
    if (this.state === CM_CONNECTED) handshaking = false;
  };
  cm.onSocketClosed = function (this: ConnectionManagerInternals, hadError: boolean) {
    handshaking = false;
    onSocketClosed.call(this, hadError);
  };
  const timer = setInterval(() => {
    if (cm.state === CM_CLOSED) return clearInterval(timer);
    const silentMs = Date.now() - lastHeard;
    const stale =
      (cm.state === CM_CONNECTED && silentMs > (cm.sessionTimeout * 2) / 3) ||
      (cm.state === CM_CONNECTING && handshaking && silentMs > cm.sessionTimeout / 3);
    if (stale) {
      handshaking = false;
      cm.socket?.destroy();
    }
  }, WATCHDOG_TICK_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * node-zookeeper-client writes each request to its socket the moment it is queued: one write system call, one
 * TCP segment (Nagle is off) and one wake-up of the server per request. A keeper reading a hundred requests,
 * or a router recording a task, queues many at once. Requests queued in the same turn of the event loop now go
 * out together in one write, right after the code that queued them (a microtask later): the same bytes, in the
 * same order. With another version of the library (no such queue) writes stay as they are.
 */
function coalesceWrites(cm: ConnectionManagerInternals, logger: ZkLogger): void {
  const queue = cm.packetQueue;
  const flush = cm.onPacketQueueReadable;
  if (!queue || typeof flush !== 'function' || queue.listenerCount('readable') !== 1) return;
  queue.removeAllListeners('readable');
  let scheduled = false;
  queue.on('readable', () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      const socket = cm.socket;
      socket?.cork?.();
      try {
        flush.call(cm);
      } catch (err) {
        // Thrown to whoever queued the request before; here nobody would catch it. A new connection is safe.
        logger.warn({ err }, 'node-zookeeper-client failed to write its requests; dropping the connection');
        socket?.destroy();
      } finally {
        socket?.uncork?.();
      }
    });
  });
}

/** OpCode.setWatches of the ZooKeeper protocol. */
const OP_SET_WATCHES = 101;
/** Bytes of watch paths per SetWatches request, at most: the Java client's ClientCnxn.SET_WATCHES_MAX_LENGTH. */
export const SET_WATCHES_MAX_BYTES = 128 * 1024;

export interface WatchPaths {
  dataWatches: string[];
  existWatches: string[];
  childWatches: string[];
}

/**
 * The watches of a session in batches of at most `maxBytes` bytes of paths, in order (data, then exist, then
 * child watches), as the Java client splits them; a path longer than that goes alone.
 */
export function batchWatches(all: WatchPaths, maxBytes = SET_WATCHES_MAX_BYTES): WatchPaths[] {
  const batches: WatchPaths[] = [];
  let batch: WatchPaths | undefined;
  let bytes = 0;
  for (const kind of ['dataWatches', 'existWatches', 'childWatches'] as const) {
    for (const path of all[kind]) {
      const n = Buffer.byteLength(path);
      if (!batch || (bytes > 0 && bytes + n > maxBytes)) {
        batches.push((batch = { dataWatches: [], existWatches: [], childWatches: [] }));
        bytes = 0;
      }
      batch[kind].push(path);
      bytes += n;
    }
  }
  return batches;
}

interface SetWatchesRequest {
  header: { type: number };
  payload: WatchPaths;
}

function isSetWatches(request: unknown): request is SetWatchesRequest {
  const r = request as Partial<SetWatchesRequest> | null | undefined;
  return r?.header?.type === OP_SET_WATCHES && Array.isArray(r.payload?.dataWatches) && Array.isArray(r.payload.existWatches) && Array.isArray(r.payload.childWatches);
}

/** A copy of a library object (same prototype, so the same serialisation), with some fields replaced. */
function cloneWith<T extends object>(o: T, fields: Partial<T>): T {
  return Object.assign(Object.create(Object.getPrototypeOf(o) as object | null) as T, o, fields);
}

/**
 * node-zookeeper-client re-sends a session's watches on a reconnect in one SetWatches request (in
 * `onSocketConnected`). That request is taken off the queue there and sent as several, each with at most
 * SET_WATCHES_MAX_BYTES of paths: the server answers each in order, as any request, and a session with
 * thousands of watches on long paths no longer loses its connection for good on a reconnect.
 */
function splitSetWatches(cm: ConnectionManagerInternals): void {
  const { onSocketConnected, queue } = cm;
  if (typeof queue !== 'function') return;
  cm.onSocketConnected = function (this: ConnectionManagerInternals) {
    let whole: SetWatchesRequest | undefined;
    this.queue = (request, callback) => (isSetWatches(request) ? void (whole = request) : queue.call(this, request, callback));
    try {
      onSocketConnected.call(this);
    } finally {
      this.queue = queue;
    }
    if (!whole) return;
    for (const batch of batchWatches(whole.payload)) queue.call(this, cloneWith(whole, { header: cloneWith(whole.header, {}), payload: cloneWith(whole.payload, batch) }));
  };
}

function isConnectionManager(cm: unknown): cm is ConnectionManagerInternals {
  const c = cm as Partial<ConnectionManagerInternals> | undefined;
  return (
    typeof c?.state === 'number' &&
    typeof c.connect === 'function' &&
    typeof c.onSocketConnected === 'function' &&
    typeof c.onSocketData === 'function' &&
    typeof c.onSocketClosed === 'function'
  );
}

/**
 * node-zookeeper-client's `createClient`, with a connection watchdog (see `installWatchdog`) and `destroy()`,
 * which the library lacks: stop reconnecting and drop the socket without a CloseSession. Both reach into
 * the library's connection manager (1.1.3 internals); with another version they fall back to what the
 * library offers (no watchdog; `destroy` = `close`).
 */
export function createLibraryClient(connectionString: string, options: ZkClientOptions): ZkClient {
  const client = zookeeper.createClient(connectionString, options);
  const cm: unknown = (client as unknown as { connectionManager?: unknown }).connectionManager;
  if (!isConnectionManager(cm)) return Object.assign(client, { destroy: () => client.close() });
  const stopWatchdog = installWatchdog(cm, options.logger ?? silentZkLogger);
  coalesceWrites(cm, options.logger ?? silentZkLogger);
  splitSetWatches(cm);
  const destroy = (): void => {
    stopWatchdog();
    cm.connect = () => undefined;
    // A reconnection already scheduled opens its socket later and would open a session on it.
    cm.onSocketConnected = function (this: ConnectionManagerInternals) {
      this.socket?.destroy();
    };
    cm.socket?.destroy();
  };
  return Object.assign(client, { destroy });
}

function zkErrorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

function toCoordinatorError(err: unknown, path: string): CoordinatorError {
  if (err instanceof CoordinatorError) return err;
  const num = zkErrorCode(err);
  const code = num === undefined ? undefined : ZK_CODES[num];
  let e: CoordinatorError;
  if (code) e = new CoordinatorError(code, path);
  else if (num !== undefined) {
    const name = (err as { name?: unknown }).name;
    e = new CoordinatorError('OTHER', path, `ZooKeeper error ${typeof name === 'string' ? name : 'UNKNOWN'}[${num}] at ${path}`);
  } else e = new CoordinatorError('OTHER', path, `${err instanceof Error ? err.message : String(err)} (${path})`);
  e.cause = err;
  return e;
}

/** The error of the first failing op of a multi, named by that op's path. */
function transactionError(err: unknown, results: unknown, ops: TxOp[]): CoordinatorError {
  if (Array.isArray(results)) {
    for (const [i, r] of results.entries()) {
      const code = (r as { err?: unknown } | null)?.err;
      if (typeof code === 'number' && code !== ZK_OK && code !== ZK_RUNTIME_INCONSISTENCY) {
        return toCoordinatorError(err, ops[i]?.path ?? ops[0]?.path ?? '/');
      }
    }
  }
  return toCoordinatorError(err, ops[0]?.path ?? '/');
}

/** Undo the library's `version || -1` for the op just queued. */
function pinVersion(tx: ZkTransaction, version: number): void {
  const queued = tx.ops?.[tx.ops.length - 1];
  if (queued) queued.version = version;
}

const long = (b: Buffer | undefined): number => (b && b.length >= 8 ? Number(b.readBigInt64BE(0)) : 0);

function toStat(s: ZkStat): Stat {
  const owner = s.ephemeralOwner;
  return {
    version: s.version,
    numChildren: s.numChildren,
    ctime: long(s.ctime),
    mtime: long(s.mtime),
    ephemeralOwner: owner && owner.some((b) => b !== 0) ? owner.toString('hex') : undefined,
  };
}

const seconds = (ms: number): string => `${ms / 1000}s`;

/**
 * A ZooKeeper session as a Coordinator. Session states follow Curator: `suspended` on disconnection (and
 * calls in flight reject with CONNECTION_LOSS), `reconnected` when the same session comes back, `lost` on
 * expiry, or after `sessionTimeoutMs` of suspension without reaching a server, then `connected` once a new
 * session is up (`sessionId` changes). Calls made while not connected reject with CONNECTION_LOSS at once.
 *
 * Watches are one-shot: a given watcher function registered on a path (through any of `get`, `exists`,
 * `children`) fires once, on the first event. When the session is lost or closed, every outstanding watch
 * fires with type `session`, so that waiters re-check and see the new state (or CLOSED). A watch may fire
 * early (e.g. a `children` watch set on a node that was being created can fire on its data change); it is
 * never lost while the session lives.
 */
export class ZkCoordinator implements Coordinator {
  private client!: ZkClient;
  private detachClient: (() => void) | undefined;
  private phase: Phase = 'connecting';
  private currentSessionId = '';
  private readonly listeners = new Set<(state: SessionState) => void>();
  /** Rejecters of the calls in flight, so that a lost session settles calls the library would leave hanging. */
  private readonly inflight = new Set<(code: CoordinatorError['code']) => void>();
  /** Live watch entries by path and watcher, so that re-registering a watcher reuses its entry. */
  private readonly watches = new Map<string, Map<Watcher, WatchEntry>>();
  /** Entries the server knows about (their read succeeded): these fire `session` on loss. */
  private readonly armed = new Set<WatchEntry>();
  private suspendTimer: NodeJS.Timeout | undefined;
  private onFirstConnect: (() => void) | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly opts: CompiledZkCoordinatorOptions) {}

  /**
   * Connects and resolves once the session is established. Rejects with BackendError when no server answers
   * within `connectTimeoutMs` (and stops trying), or with OptionError on bad options.
   */
  static async connect(options: ZkCoordinatorOptions): Promise<ZkCoordinator> {
    const c = new ZkCoordinator(compileZkCoordinatorOptions(options));
    await c.start();
    return c;
  }

  get sessionId(): string {
    return this.currentSessionId;
  }

  // ---- session lifecycle ----

  private start(): Promise<void> {
    const { connectionString, connectTimeoutMs } = this.opts;
    return new Promise<void>((resolve, reject) => {
      const fail = (cause?: unknown) => {
        this.onFirstConnect = undefined;
        this.phase = 'closed';
        this.dropClient();
        reject(
          new BackendError('zookeeper', `cannot reach ZooKeeper at ${connectionString} within ${seconds(connectTimeoutMs)}`, {
            hint: 'check --zk / TASKERMAN_ZK',
            cause,
            context: { connectionString },
          }),
        );
      };
      const timer = setTimeout(fail, connectTimeoutMs);
      this.onFirstConnect = () => {
        clearTimeout(timer);
        this.onFirstConnect = undefined;
        resolve();
      };
      try {
        this.attach(this.newClient());
      } catch (err) {
        clearTimeout(timer);
        fail(err);
      }
    });
  }

  private newClient(): ZkClient {
    const { connectionString, sessionTimeoutMs, reconnectDelayMs, retries, clientFactory } = this.opts;
    const options: ZkClientOptions = { sessionTimeout: sessionTimeoutMs, spinDelay: reconnectDelayMs, retries, logger: this.opts.logger };
    return (clientFactory ?? createLibraryClient)(connectionString, options);
  }

  private attach(client: ZkClient): void {
    this.client = client;
    const onState = (s: ZkState) => {
      if (this.client === client) this.onClientState(s.name);
    };
    client.on('state', onState);
    this.detachClient = () => client.removeListener('state', onState);
    client.connect();
  }

  /** Stops listening to the current client and tears its connection down without closing the session. */
  private dropClient(): void {
    this.detachClient?.();
    this.detachClient = undefined;
    try {
      this.client.destroy();
    } catch (err) {
      this.opts.logger.debug({ err }, 'destroying the ZooKeeper client failed');
    }
  }

  private onClientState(name: string): void {
    switch (name) {
      case 'SYNC_CONNECTED':
        return this.onConnected();
      case 'DISCONNECTED':
        return this.onDisconnected();
      case 'EXPIRED':
        return this.onLost('expired');
      default:
        this.opts.logger.warn({ zk: this.opts.connectionString, state: name }, 'unexpected ZooKeeper client state');
    }
  }

  private onConnected(): void {
    const id = this.client.getSessionId().toString('hex');
    const log = this.opts.logger;
    switch (this.phase) {
      case 'connecting':
      case 'renewing':
        this.phase = 'connected';
        this.currentSessionId = id;
        log.info({ zk: this.opts.connectionString, session: id, timeoutMs: this.client.getSessionTimeout() }, 'ZooKeeper session established');
        this.onFirstConnect?.();
        this.emit('connected');
        return;
      case 'suspended':
        this.clearSuspendTimer();
        this.phase = 'connected';
        if (id === this.currentSessionId) {
          log.info({ session: id }, 'ZooKeeper connection back, same session');
          this.emit('reconnected');
        } else {
          // The library reports EXPIRED rather than this; handled anyway, as a loss then a new session.
          this.emit('lost');
          this.fireSessionWatches();
          this.currentSessionId = id;
          this.emit('connected');
        }
        return;
      default:
        return;
    }
  }

  private onDisconnected(): void {
    if (this.phase !== 'connected') return;
    this.phase = 'suspended';
    this.rejectInflight('CONNECTION_LOSS');
    const timeoutMs = this.client.getSessionTimeout() || this.opts.sessionTimeoutMs;
    // Curator's rule: past the session timeout without a server, the session must be presumed expired.
    this.suspendTimer = setTimeout(() => this.onLost(`no server reached for ${timeoutMs} ms`), timeoutMs);
    this.suspendTimer.unref();
    this.opts.logger.warn({ zk: this.opts.connectionString, session: this.currentSessionId }, 'ZooKeeper connection lost, session suspended');
    this.emit('suspended');
  }

  private onLost(reason: string): void {
    if (this.phase !== 'connected' && this.phase !== 'suspended') return;
    this.clearSuspendTimer();
    this.dropClient();
    this.rejectInflight('SESSION_EXPIRED');
    this.phase = 'renewing';
    this.opts.logger.warn({ zk: this.opts.connectionString, session: this.currentSessionId, reason }, 'ZooKeeper session lost');
    this.emit('lost');
    this.fireSessionWatches();
    if (this.phase !== 'renewing') return; // a listener closed us
    try {
      this.attach(this.newClient());
    } catch (err) {
      this.opts.logger.warn({ err }, 'cannot create a new ZooKeeper client after losing the session');
    }
  }

  private clearSuspendTimer(): void {
    if (this.suspendTimer) clearTimeout(this.suspendTimer);
    this.suspendTimer = undefined;
  }

  private emit(state: SessionState): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(state);
      } catch (err) {
        this.opts.logger.warn({ err, state }, 'session state listener threw');
      }
    }
  }

  private rejectInflight(code: CoordinatorError['code']): void {
    for (const reject of [...this.inflight]) reject(code);
  }

  onSessionState(listener: (state: SessionState) => void): () => void {
    if (this.phase === 'closed') return () => undefined;
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Closes the session: ephemerals go at once when connected; otherwise the connection is dropped and the
   * server expires the session after its timeout. Outstanding watches fire `session`; no state is emitted
   * after this; later calls reject with CLOSED. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const wasConnected = this.phase === 'connected';
    this.phase = 'closed';
    this.clearSuspendTimer();
    this.listeners.clear();
    if (wasConnected) await this.closeSession();
    this.dropClient();
    this.rejectInflight('CLOSED');
    this.fireSessionWatches();
  }

  /** CloseSession, then wait (bounded) for the server to hang up, which it does once the ephemerals are gone. */
  private closeSession(): Promise<void> {
    const client = this.client;
    this.detachClient?.();
    this.detachClient = undefined;
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        client.removeListener('state', onState);
        resolve();
      };
      const onState = (s: ZkState) => {
        if (s.name === 'DISCONNECTED' || s.name === 'EXPIRED') done();
      };
      const timer = setTimeout(done, this.opts.connectTimeoutMs);
      client.on('state', onState);
      try {
        client.close();
      } catch (err) {
        this.opts.logger.debug({ err }, 'closing the ZooKeeper session failed');
        done();
      }
    });
  }

  /**
   * Not in the port: drops the connection without closing the session, like a crashed process. The
   * session's ephemerals stay until the server expires it (after the session timeout). Nothing is emitted,
   * no watch fires, and later calls reject with CLOSED.
   */
  kill(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.closing = Promise.resolve();
    this.clearSuspendTimer();
    this.listeners.clear();
    this.dropClient();
    this.rejectInflight('CLOSED');
    this.armed.clear();
    this.watches.clear();
  }

  // ---- watches ----

  private watchEntry(path: string, watcher: Watcher): WatchEntry {
    let byWatcher = this.watches.get(path);
    const known = byWatcher?.get(watcher);
    if (known) return known;
    const entry: WatchEntry = {
      path,
      watcher,
      done: false,
      fire: (event) => this.fireWatch(entry, WATCH_TYPES[event.name] ?? 'session'),
    };
    if (!byWatcher) this.watches.set(path, (byWatcher = new Map()));
    byWatcher.set(watcher, entry);
    return entry;
  }

  private fireWatch(entry: WatchEntry, type: WatchEvent['type']): void {
    if (entry.done) return;
    entry.done = true;
    this.armed.delete(entry);
    const byWatcher = this.watches.get(entry.path);
    if (byWatcher?.get(entry.watcher) === entry) {
      byWatcher.delete(entry.watcher);
      if (byWatcher.size === 0) this.watches.delete(entry.path);
    }
    // Never from inside the library's socket handler: a throwing or re-entrant watcher must not hurt it.
    queueMicrotask(() => {
      try {
        entry.watcher({ type, path: entry.path });
      } catch (err) {
        this.opts.logger.warn({ err, path: entry.path }, 'watcher threw');
      }
    });
  }

  private fireSessionWatches(): void {
    const armed = [...this.armed];
    this.armed.clear();
    this.watches.clear();
    for (const entry of armed) this.fireWatch(entry, 'session');
  }

  // ---- calls ----

  /**
   * Runs one library call. `arm` is the watch the call registers: it counts from the moment the library
   * accepted the read (its callback), not before, and not if the call failed.
   */
  private call<T>(path: string, run: (client: ZkClient, done: (err: unknown, value: T) => void) => void, arm?: WatchEntry): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.phase === 'closed') return reject(new CoordinatorError('CLOSED', path, `the coordinator is closed (${path})`));
      if (this.phase !== 'connected') {
        return reject(new CoordinatorError('CONNECTION_LOSS', path, `not connected to ZooKeeper (${this.phase}) (${path})`));
      }
      let settled = false;
      const abort = (code: CoordinatorError['code']) => {
        if (settled) return;
        settled = true;
        this.inflight.delete(abort);
        reject(new CoordinatorError(code, path));
      };
      this.inflight.add(abort);
      try {
        run(this.client, (err, value) => {
          if (settled) return;
          settled = true;
          this.inflight.delete(abort);
          if (err) return reject(toCoordinatorError(err, path));
          if (arm && !arm.done) this.armed.add(arm);
          resolve(value);
        });
      } catch (err) {
        // The library asserts its arguments synchronously (e.g. an invalid path).
        if (!settled) {
          settled = true;
          this.inflight.delete(abort);
          reject(toCoordinatorError(err, path));
        }
      }
    });
  }

  create(path: string, data?: Buffer, mode: CreateMode = 'persistent'): Promise<string> {
    return this.call<string>(path, (c, done) => c.create(path, data ?? EMPTY, MODES[mode], (e, p) => done(e, p)));
  }

  async mkdirp(path: string): Promise<void> {
    if (path === '/' || (await this.exists(path))) return;
    const parts = path.split('/').slice(1);
    for (let attempt = 1; ; attempt++) {
      try {
        let current = '';
        for (const part of parts) {
          current += `/${part}`;
          await this.create(current).catch((err: unknown) => {
            if (!isNodeExists(err)) throw err;
          });
        }
        return;
      } catch (err) {
        // A parent removed under our feet by someone else: start over.
        if (!isNoNode(err) || attempt >= MKDIRP_ATTEMPTS) throw err;
      }
    }
  }

  private getData(path: string, entry?: WatchEntry): Promise<{ data: Buffer | null; stat: ZkStat }> {
    return this.call(
      path,
      (c, done) => {
        const cb = (e: unknown, data: Buffer | null, stat: ZkStat) => done(e, { data, stat });
        if (entry) c.getData(path, entry.fire, cb);
        else c.getData(path, cb);
      },
      entry,
    );
  }

  private existsStat(path: string, entry?: WatchEntry): Promise<ZkStat | null> {
    return this.call<ZkStat | null>(
      path,
      (c, done) => {
        if (entry) c.exists(path, entry.fire, (e, st) => done(e, st));
        else c.exists(path, (e, st) => done(e, st));
      },
      entry,
    );
  }

  private getChildren(path: string, entry?: WatchEntry): Promise<string[]> {
    return this.call<string[]>(
      path,
      (c, done) => {
        if (entry) c.getChildren(path, entry.fire, (e, kids) => done(e, kids));
        else c.getChildren(path, (e, kids) => done(e, kids));
      },
      entry,
    );
  }

  async get(path: string, watch?: Watcher): Promise<NodeData | undefined> {
    const entry = watch && this.watchEntry(path, watch);
    let res: { data: Buffer | null; stat: ZkStat };
    try {
      res = await this.getData(path, entry);
    } catch (err) {
      if (!isNoNode(err)) throw err;
      if (!entry) return undefined;
      // getData set no watch on a missing node: watch for its creation instead.
      if (!(await this.existsStat(path, entry))) return undefined;
      // Created meanwhile; `exists` left a data watch, so a plain read is enough.
      try {
        res = await this.getData(path);
      } catch (err2) {
        if (isNoNode(err2)) return undefined;
        throw err2;
      }
    }
    return { data: res.data ? Buffer.from(res.data) : Buffer.alloc(0), stat: toStat(res.stat) };
  }

  async exists(path: string, watch?: Watcher): Promise<Stat | undefined> {
    const st = await this.existsStat(path, watch && this.watchEntry(path, watch));
    return st ? toStat(st) : undefined;
  }

  async set(path: string, data: Buffer, version: number): Promise<Stat> {
    return toStat(await this.call<ZkStat>(path, (c, done) => c.setData(path, data, version, (e, st) => done(e, st))));
  }

  async remove(path: string, version = -1): Promise<void> {
    await this.call<void>(path, (c, done) => c.remove(path, version, (e) => done(e, undefined)));
  }

  async removeRecursive(path: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const kids = await this.children(path);
      if (kids === undefined) return;
      for (let i = 0; i < kids.length; i += REMOVE_FANOUT) {
        await Promise.all(kids.slice(i, i + REMOVE_FANOUT).map((k) => this.removeRecursive(joinPath(path, k))));
      }
      try {
        await this.remove(path, -1);
        return;
      } catch (err) {
        if (isNoNode(err)) return;
        const notEmpty = err instanceof CoordinatorError && err.code === 'NOT_EMPTY';
        if (!notEmpty || attempt >= REMOVE_ATTEMPTS) throw err;
      }
    }
  }

  /** As the port says; additionally, a watch set on a missing node fires when it is created. */
  async children(path: string, watch?: Watcher): Promise<string[] | undefined> {
    const entry = watch && this.watchEntry(path, watch);
    try {
      return await this.getChildren(path, entry);
    } catch (err) {
      if (!isNoNode(err)) throw err;
      if (!entry) return undefined;
      if (!(await this.existsStat(path, entry))) return undefined;
      // Created meanwhile: now a children watch can be set (the data watch `exists` left fires at most once).
      try {
        return await this.getChildren(path, entry);
      } catch (err2) {
        if (isNoNode(err2)) return undefined;
        throw err2;
      }
    }
  }

  async transaction(ops: TxOp[]): Promise<void> {
    await this.call<void>(ops[0]?.path ?? '/', (c, done) => {
      const tx = c.transaction();
      for (const op of ops) {
        switch (op.op) {
          case 'create':
            tx.create(op.path, op.data ?? EMPTY, MODES[op.mode ?? 'persistent']);
            break;
          case 'set':
            tx.setData(op.path, op.data, op.version);
            pinVersion(tx, op.version);
            break;
          case 'remove':
            tx.remove(op.path, op.version);
            pinVersion(tx, op.version);
            break;
          case 'check':
            tx.check(op.path, op.version);
            pinVersion(tx, op.version);
            break;
        }
      }
      tx.commit((err, results) => done(err ? transactionError(err, results, ops) : null, undefined));
    });
  }
}
