// The Coordinator port: a narrow, ZooKeeper-shaped store (znodes with versions, ephemeral and sequential
// nodes, one-shot watches, multi-op transactions, session state). Adapters: ZooKeeper
// (`zk-coordinator.ts`) and in-memory (`memory-coordinator.ts`); both pass
// `test/contract/coordinator.contract.ts`. Task records, leases and membership are built once on top of
// it (`task-store.ts`, `lease.ts`, `membership.ts`), so the safety logic exists in one place only.

export type CreateMode = 'persistent' | 'ephemeral' | 'persistent_sequential' | 'ephemeral_sequential';

export interface Stat {
  version: number;
  /** Child count. */
  numChildren: number;
  /** Creation time, ms since epoch (server clock). */
  ctime: number;
  mtime: number;
  /** Session that owns the node when it is ephemeral; undefined otherwise. */
  ephemeralOwner: string | undefined;
}

export interface NodeData {
  data: Buffer;
  stat: Stat;
}

/** One-shot watch: called at most once, on the next change of what was read. */
export type Watcher = (event: WatchEvent) => void;
export interface WatchEvent {
  type: 'created' | 'deleted' | 'data' | 'children' | 'session';
  path: string;
}

export type TxOp =
  | { op: 'create'; path: string; data?: Buffer; mode?: CreateMode }
  | { op: 'set'; path: string; data: Buffer; version: number }
  | { op: 'remove'; path: string; version: number }
  /** Changes nothing; fails the whole transaction (BAD_VERSION / NO_NODE) unless the node is at `version`. */
  | { op: 'check'; path: string; version: number };

/**
 * Session states, following Apache Curator: `suspended` = connection lost, the session may still be alive
 * (treat every lease as lost: Curator tech note 14); `reconnected` = same session back, ephemerals intact;
 * `lost` = the session expired or was closed, ephemerals are gone; `connected` = first connect, or a new
 * session after `lost`.
 */
export type SessionState = 'connected' | 'suspended' | 'reconnected' | 'lost';

export class CoordinatorError extends Error {
  constructor(
    readonly code: 'NO_NODE' | 'NODE_EXISTS' | 'BAD_VERSION' | 'NOT_EMPTY' | 'CONNECTION_LOSS' | 'SESSION_EXPIRED' | 'CLOSED' | 'OTHER',
    readonly path: string,
    message?: string,
  ) {
    super(message ?? `${code} at ${path}`);
    this.name = 'CoordinatorError';
  }
}

export interface Coordinator {
  /** Session id (hex) of the current session. */
  readonly sessionId: string;
  /** Creates; returns the actual path (with the sequence suffix for sequential modes). Throws NODE_EXISTS / NO_NODE. */
  create(path: string, data?: Buffer, mode?: CreateMode): Promise<string>;
  /** Creates the path and any missing parents as persistent nodes; no error if it exists. */
  mkdirp(path: string): Promise<void>;
  /** undefined when the node does not exist. The watch fires on data change or deletion (or creation if absent). */
  get(path: string, watch?: Watcher): Promise<NodeData | undefined>;
  /** Stat or undefined; the watch fires on creation, deletion or data change. */
  exists(path: string, watch?: Watcher): Promise<Stat | undefined>;
  /** Compare-and-set: version -1 means any. Throws BAD_VERSION / NO_NODE. Returns the new stat. */
  set(path: string, data: Buffer, version: number): Promise<Stat>;
  /** Throws NO_NODE / BAD_VERSION / NOT_EMPTY. */
  remove(path: string, version?: number): Promise<void>;
  /** Removes the node and everything under it; no error if absent. */
  removeRecursive(path: string): Promise<void>;
  /** Child names (not paths), unsorted; undefined when the node does not exist. The watch fires on a child change or deletion. */
  children(path: string, watch?: Watcher): Promise<string[] | undefined>;
  /** All or nothing. Throws the CoordinatorError of the first failing op. */
  transaction(ops: TxOp[]): Promise<void>;
  /** Session state changes; returns an unsubscribe function. */
  onSessionState(listener: (state: SessionState) => void): () => void;
  /** Closes the session: its ephemeral nodes are removed. */
  close(): Promise<void>;
}

export const isNoNode = (e: unknown): boolean => e instanceof CoordinatorError && e.code === 'NO_NODE';
export const isNodeExists = (e: unknown): boolean => e instanceof CoordinatorError && e.code === 'NODE_EXISTS';
export const isBadVersion = (e: unknown): boolean => e instanceof CoordinatorError && e.code === 'BAD_VERSION';
/** ZooKeeper is unreachable right now (the session is suspended, or lost until a new one is up): try again later. */
export const isZkUnreachable = (e: unknown): boolean => e instanceof CoordinatorError && (e.code === 'CONNECTION_LOSS' || e.code === 'SESSION_EXPIRED');

export function joinPath(...parts: string[]): string {
  const p = parts.join('/').replace(/\/+/g, '/');
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
}

/** ZooKeeper node names cannot hold "/" and must not be "." or "..": encode names we did not choose. */
export function encodeSegment(name: string): string {
  return encodeURIComponent(name).replace(/\./g, '%2E');
}
export function decodeSegment(seg: string): string {
  return decodeURIComponent(seg);
}

export const toJsonBuffer = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');
export function fromJsonBuffer<T>(b: Buffer): T {
  return JSON.parse(b.toString('utf8')) as T;
}
