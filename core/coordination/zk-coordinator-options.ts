// Options of the ZooKeeper adapter of the Coordinator port (`zk-coordinator.ts`), the narrow client interface
// it drives (only the calls it makes), and the compiled, fully-required shape with durations in ms.
import { OptionError } from '../errors.js';

/** The part of a pino logger the adapter uses. */
export interface ZkLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

/** A znode stat as node-zookeeper-client returns it: 64-bit fields are 8-byte big-endian buffers. */
export interface ZkStat {
  version: number;
  numChildren: number;
  ctime: Buffer;
  mtime: Buffer;
  ephemeralOwner: Buffer;
}

/** A connection state as node-zookeeper-client emits it (`State.SYNC_CONNECTED`, ...); only `name` is read. */
export interface ZkState {
  name: string;
  code: number;
}

/** A watch notification as node-zookeeper-client delivers it. */
export interface ZkEvent {
  name: string;
  path: string;
}

/**
 * Errors are node-zookeeper-client `Exception`s (numeric `code`, e.g. -101 NO_NODE) or plain errors. Typed
 * `unknown` on purpose: the adapter inspects them rather than trusting a shape.
 */
export type ZkCallback<T extends unknown[] = []> = (error: unknown, ...result: T) => void;

export interface ZkTransaction {
  create(path: string, data: Buffer, mode: number): ZkTransaction;
  setData(path: string, data: Buffer, version: number): ZkTransaction;
  remove(path: string, version: number): ZkTransaction;
  check(path: string, version: number): ZkTransaction;
  commit(callback: ZkCallback<[results: unknown]>): void;
  /**
   * node-zookeeper-client 1.1.3 keeps the queued operations here, and its `setData`/`remove`/`check` store
   * `version || -1`, turning a version-0 CAS into "any version". The adapter rewrites the stored version
   * after queuing; a client without this list is trusted to pass versions through unchanged.
   */
  ops?: { version?: number }[];
}

/** The node-zookeeper-client calls the adapter makes, and nothing more, so that tests can swap the client. */
export interface ZkClient {
  connect(): void;
  /** Closes the session (its ephemerals go) and the connection. */
  close(): void;
  /** Drops the connection and stops reconnecting without closing the session, like a crashed process. */
  destroy(): void;
  create(path: string, data: Buffer, mode: number, callback: ZkCallback<[path: string]>): void;
  remove(path: string, version: number, callback: ZkCallback): void;
  setData(path: string, data: Buffer, version: number, callback: ZkCallback<[stat: ZkStat]>): void;
  getData(path: string, callback: ZkCallback<[data: Buffer | null, stat: ZkStat]>): void;
  getData(path: string, watcher: (event: ZkEvent) => void, callback: ZkCallback<[data: Buffer | null, stat: ZkStat]>): void;
  /** The stat is null when the node does not exist. */
  exists(path: string, callback: ZkCallback<[stat: ZkStat | null]>): void;
  exists(path: string, watcher: (event: ZkEvent) => void, callback: ZkCallback<[stat: ZkStat | null]>): void;
  getChildren(path: string, callback: ZkCallback<[children: string[], stat: ZkStat]>): void;
  getChildren(path: string, watcher: (event: ZkEvent) => void, callback: ZkCallback<[children: string[], stat: ZkStat]>): void;
  transaction(): ZkTransaction;
  getSessionId(): Buffer;
  getSessionPassword(): Buffer;
  /** The negotiated session timeout, in ms, once connected. */
  getSessionTimeout(): number;
  on(event: 'state', listener: (state: ZkState) => void): unknown;
  removeListener(event: 'state', listener: (state: ZkState) => void): unknown;
}

/** What the adapter asks of a new client; the library reads the same names. */
export interface ZkClientOptions {
  sessionTimeout: number;
  /** Longest random pause before another round of connection attempts once every server failed. */
  spinDelay: number;
  retries: number;
  /** Not a library option: where `createLibraryClient` reports what it had to recover from. */
  logger?: ZkLogger;
  /** Re-attach to an existing session (tests use this to force an expiry). */
  sessionId?: Buffer;
  sessionPassword?: Buffer;
}

export type ZkClientFactory = (connectionString: string, options: ZkClientOptions) => ZkClient;

export interface ZkCoordinatorOptions {
  /** host:port[,host:port...][/chroot], e.g. `127.0.0.1:2181`. Required. */
  connectionString: string;
  /**
   * Requested session timeout; the server clamps it to its own min/max. Also how long the adapter stays
   * `suspended` before it declares the session `lost` itself (Curator does the same). Default: 10000 ms.
   */
  sessionTimeoutMs?: number;
  /** `connect()` gives up after this long. Default: 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * node-zookeeper-client's own re-sends of a call that failed with CONNECTION_LOSS (after 1 s, 2 s, ...).
   * The adapter still rejects such a call at once when the connection drops, so a retried write can land
   * after its caller saw CONNECTION_LOSS (which that error allows anyway). Default: 0.
   */
  retries?: number;
  /** Longest random pause between rounds of reconnection attempts. Default: 1000 ms (the library's). */
  reconnectDelayMs?: number;
  /** Default: none (silent). */
  logger?: ZkLogger;
  /** Builds the client; default: node-zookeeper-client's `createClient`. Tests swap it. */
  clientFactory?: ZkClientFactory;
}

export interface CompiledZkCoordinatorOptions {
  connectionString: string;
  sessionTimeoutMs: number;
  connectTimeoutMs: number;
  retries: number;
  reconnectDelayMs: number;
  logger: ZkLogger;
  clientFactory: ZkClientFactory | undefined;
}

const noop = (): void => undefined;
export const silentZkLogger: ZkLogger = { warn: noop, info: noop, debug: noop };

function intAtLeast(field: string, value: number | undefined, fallback: number, min: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new OptionError(field, `must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

export function compileZkCoordinatorOptions(opts: ZkCoordinatorOptions): CompiledZkCoordinatorOptions {
  const connectionString = opts.connectionString?.trim() ?? '';
  // One host:port (or bare host) per comma, an optional chroot after the last one.
  if (!/^[^\s,/]+(,[^\s,/]+)*(\/\S*)?$/.test(connectionString)) {
    throw new OptionError('connectionString', `"${opts.connectionString}" is not a ZooKeeper connection string like 127.0.0.1:2181`, {
      hint: 'check --zk / TASKERMAN_ZK',
    });
  }
  return {
    connectionString,
    sessionTimeoutMs: intAtLeast('sessionTimeoutMs', opts.sessionTimeoutMs, 10_000, 1),
    connectTimeoutMs: intAtLeast('connectTimeoutMs', opts.connectTimeoutMs, 5_000, 1),
    retries: intAtLeast('retries', opts.retries, 0, 0),
    reconnectDelayMs: intAtLeast('reconnectDelayMs', opts.reconnectDelayMs, 1_000, 0),
    logger: opts.logger ?? silentZkLogger,
    clientFactory: opts.clientFactory,
  };
}
