// The in-memory adapter of the Coordinator port, for the embedded mode and fast unit tests: a
// ZooKeeper-alike "server" (`MemoryCoordinatorStore`: the znode tree, versions, cversions, sequence
// suffixes, ephemeral owners, one-shot watches, all-or-nothing multi) and its sessions (`MemoryCoordinator`),
// plus the test hooks that ZooKeeper cannot offer cheaply: expire, suspend/resume a session.
//
// Everything a caller observes happens asynchronously, in order (one setImmediate per call or watch
// event): no promise settles and no watcher runs inside the call that caused it, as with a real server.
import {
  CoordinatorError,
  type Coordinator,
  type CreateMode,
  type NodeData,
  type SessionState,
  type Stat,
  type TxOp,
  type WatchEvent,
  type Watcher,
} from './coordinator.js';
import { systemClock, type Clock } from '../clock.js';

interface ZNode {
  data: Buffer;
  version: number;
  /** Bumped on every child creation or deletion; the sequence source of sequential children, as in ZooKeeper. */
  cversion: number;
  ctime: number;
  mtime: number;
  ephemeralOwner: string | undefined;
  children: Set<string>;
}

type WatchKind = 'data' | 'exist' | 'child';

/** One registration of a watcher on a path by a session; fires at most once. */
interface WatchReg {
  readonly session: MemoryCoordinator;
  readonly path: string;
  readonly watcher: Watcher;
  done: boolean;
}

interface Trigger {
  path: string;
  type: Exclude<WatchEvent['type'], 'session'>;
}

/** Which watch kinds an event on a path fires, as in ZooKeeper's WatchManager. */
const FIRES: Record<Trigger['type'], WatchKind[]> = {
  created: ['data', 'exist'],
  data: ['data', 'exist'],
  deleted: ['data', 'exist', 'child'],
  children: ['child'],
};

type Phase = 'connected' | 'suspended' | 'renewing' | 'closed';

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}
const nameOf = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

function validatePath(path: string): void {
  const ok = path === '/' || (path.startsWith('/') && !path.endsWith('/') && !path.split('/').slice(1).some((s) => s === '' || s === '.' || s === '..'));
  if (!ok) throw new CoordinatorError('OTHER', path, `invalid path "${path}"`);
}

const defer = (fn: () => void): void => {
  setImmediate(fn);
};

/**
 * The shared "server". Sessions come from `session()`; `expire`, `suspend`, `resume` simulate what a real
 * ensemble does to a session; `stop()` closes every session.
 */
export class MemoryCoordinatorStore {
  private readonly nodes = new Map<string, ZNode>();
  private readonly watches: Record<WatchKind, Map<string, Set<WatchReg>>> = { data: new Map(), exist: new Map(), child: new Map() };
  private readonly sessions = new Set<MemoryCoordinator>();
  private nextSession = 1;
  private stopped = false;

  private readonly now: () => number;

  /** `clock` stamps ctime/mtime (default: the system clock). */
  constructor(opts: { clock?: Pick<Clock, 'now'> } = {}) {
    const clock = opts.clock ?? systemClock;
    this.now = () => clock.now();
    const t = this.now();
    this.nodes.set('/', { data: Buffer.alloc(0), version: 0, cversion: 0, ctime: t, mtime: t, ephemeralOwner: undefined, children: new Set() });
  }

  /** A new session, connected. */
  session(): MemoryCoordinator {
    if (this.stopped) throw new CoordinatorError('CLOSED', '/', 'the memory coordinator store is stopped');
    const s = new MemoryCoordinator(this, this.newSessionId());
    this.sessions.add(s);
    return s;
  }

  /** @internal */
  newSessionId(): string {
    return (this.nextSession++).toString(16).padStart(16, '0');
  }

  /**
   * What a ZooKeeper expiry does to a session: it emits `lost` and its outstanding watches fire `session`,
   * its ephemerals go (firing other sessions' watches), then it gets a new session id and emits `connected`.
   * Calls made meanwhile reject (CONNECTION_LOSS; SESSION_EXPIRED if already in flight). Resolves once
   * `connected` was emitted.
   */
  async expire(session: MemoryCoordinator): Promise<void> {
    await session.expireNow();
  }

  /** Connection lost, session alive: emits `suspended`; calls reject with CONNECTION_LOSS until `resume`. */
  suspend(session: MemoryCoordinator): void {
    session.suspendNow();
  }

  /** Same session back: emits `reconnected`, then delivers the watch events that happened meanwhile. */
  resume(session: MemoryCoordinator): void {
    session.resumeNow();
  }

  /** Closes every session (their ephemerals go, their watches fire `session`); no new session after this. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.sessions].map((s) => s.close()));
  }

  // ---- used by sessions (@internal) ----

  /** @internal */
  forget(session: MemoryCoordinator): void {
    this.sessions.delete(session);
  }

  /**
   * @internal Runs `fn` against the tree after the current call stack, in call order. Like a ZooKeeper
   * client, a call made before `close()` still completes; one in flight when the connection goes does not.
   */
  run<T>(session: MemoryCoordinator, path: string, fn: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      try {
        session.assertUsable(path);
      } catch (err) {
        return reject(err);
      }
      defer(() => {
        try {
          session.assertStillConnected(path);
          resolve(fn());
        } catch (err) {
          reject(err instanceof CoordinatorError ? err : new CoordinatorError('OTHER', path, String(err)));
        }
      });
    });
  }

  /** @internal */
  statOf(path: string): Stat | undefined {
    const n = this.nodes.get(path);
    return n && toStat(n);
  }

  /** @internal */
  read(path: string): NodeData | undefined {
    const n = this.nodes.get(path);
    return n && { data: Buffer.from(n.data), stat: toStat(n) };
  }

  /** @internal */
  childNames(path: string): string[] | undefined {
    const n = this.nodes.get(path);
    return n && [...n.children];
  }

  /** @internal */
  watch(kind: WatchKind, reg: WatchReg): void {
    let regs = this.watches[kind].get(reg.path);
    if (!regs) this.watches[kind].set(reg.path, (regs = new Set()));
    regs.add(reg);
  }

  /** @internal */
  unwatch(reg: WatchReg): void {
    for (const kind of ['data', 'exist', 'child'] as const) {
      const regs = this.watches[kind].get(reg.path);
      if (regs?.delete(reg) && regs.size === 0) this.watches[kind].delete(reg.path);
    }
  }

  /** @internal All or nothing: on the first failing op, everything already applied is undone and nothing fires. */
  apply(owner: string, ops: TxOp[]): string[] {
    const undo: (() => void)[] = [];
    const triggers: Trigger[] = [];
    try {
      const results = ops.map((op) => {
        switch (op.op) {
          case 'create':
            return this.createNode(owner, op.path, op.data, op.mode ?? 'persistent', undo, triggers);
          case 'set':
            this.setNode(op.path, op.data, op.version, undo, triggers);
            return op.path;
          case 'remove':
            this.removeNode(op.path, op.version, undo, triggers);
            return op.path;
          case 'check': {
            validatePath(op.path);
            const n = this.nodes.get(op.path);
            if (!n) throw new CoordinatorError('NO_NODE', op.path);
            if (op.version !== -1 && op.version !== n.version) throw new CoordinatorError('BAD_VERSION', op.path);
            return op.path;
          }
        }
      });
      this.fire(triggers);
      return results;
    } catch (err) {
      for (const u of undo.reverse()) u();
      throw err;
    }
  }

  /** @internal */
  mkdirp(path: string): void {
    validatePath(path);
    const triggers: Trigger[] = [];
    let current = '';
    for (const part of path.split('/').slice(1)) {
      current += `/${part}`;
      if (!this.nodes.has(current)) this.createNode('', current, undefined, 'persistent', [], triggers);
    }
    this.fire(triggers);
  }

  /** @internal Depth first, atomically (nothing else runs in between). */
  removeTree(path: string): void {
    validatePath(path);
    const n = this.nodes.get(path);
    if (!n) return;
    const triggers: Trigger[] = [];
    const walk = (p: string, node: ZNode) => {
      for (const k of [...node.children]) {
        const cp = joinChild(p, k);
        const child = this.nodes.get(cp);
        if (child) walk(cp, child);
      }
      if (p !== '/') this.removeNode(p, -1, [], triggers);
    };
    walk(path, n);
    this.fire(triggers);
  }

  /** @internal The session's ephemerals go, as when ZooKeeper closes or expires it. */
  dropEphemerals(owner: string): void {
    const triggers: Trigger[] = [];
    for (const [path, n] of [...this.nodes]) {
      if (n.ephemeralOwner === owner && this.nodes.has(path)) this.removeNode(path, -1, [], triggers);
    }
    this.fire(triggers);
  }

  private createNode(owner: string, path: string, data: Buffer | undefined, mode: CreateMode, undo: (() => void)[], triggers: Trigger[]): string {
    if (path === '/') throw new CoordinatorError('NODE_EXISTS', path);
    const sequential = mode === 'persistent_sequential' || mode === 'ephemeral_sequential';
    // A sequential name may end with "/" (the suffix is the whole name).
    validatePath(sequential && path.endsWith('/') ? `${path}0` : path);
    const parentPath = parentOf(path);
    const parent = this.nodes.get(parentPath);
    if (!parent) throw new CoordinatorError('NO_NODE', path);
    const actual = sequential ? `${path}${String(parent.cversion).padStart(10, '0')}` : path;
    if (this.nodes.has(actual)) throw new CoordinatorError('NODE_EXISTS', actual);
    if (parent.ephemeralOwner !== undefined) {
      throw new CoordinatorError('OTHER', actual, `ephemeral nodes cannot have children (${actual})`);
    }
    const t = this.now();
    const ephemeral = mode === 'ephemeral' || mode === 'ephemeral_sequential';
    const node: ZNode = {
      data: Buffer.from(data ?? Buffer.alloc(0)),
      version: 0,
      cversion: 0,
      ctime: t,
      mtime: t,
      ephemeralOwner: ephemeral ? owner : undefined,
      children: new Set(),
    };
    const name = nameOf(actual);
    this.nodes.set(actual, node);
    parent.children.add(name);
    parent.cversion += 1;
    undo.push(() => {
      this.nodes.delete(actual);
      parent.children.delete(name);
      parent.cversion -= 1;
    });
    triggers.push({ path: actual, type: 'created' }, { path: parentPath, type: 'children' });
    return actual;
  }

  private setNode(path: string, data: Buffer, version: number, undo: (() => void)[], triggers: Trigger[]): Stat {
    validatePath(path);
    const n = this.nodes.get(path);
    if (!n) throw new CoordinatorError('NO_NODE', path);
    if (version !== -1 && version !== n.version) throw new CoordinatorError('BAD_VERSION', path);
    const before = { data: n.data, version: n.version, mtime: n.mtime };
    n.data = Buffer.from(data);
    n.version += 1;
    n.mtime = this.now();
    undo.push(() => Object.assign(n, before));
    triggers.push({ path, type: 'data' });
    return toStat(n);
  }

  /** @internal */
  set(path: string, data: Buffer, version: number): Stat {
    const triggers: Trigger[] = [];
    const stat = this.setNode(path, data, version, [], triggers);
    this.fire(triggers);
    return stat;
  }

  private removeNode(path: string, version: number, undo: (() => void)[], triggers: Trigger[]): void {
    validatePath(path);
    if (path === '/') throw new CoordinatorError('OTHER', path, 'the root cannot be removed');
    const n = this.nodes.get(path);
    if (!n) throw new CoordinatorError('NO_NODE', path);
    if (version !== -1 && version !== n.version) throw new CoordinatorError('BAD_VERSION', path);
    if (n.children.size > 0) throw new CoordinatorError('NOT_EMPTY', path);
    const parentPath = parentOf(path);
    const parent = this.nodes.get(parentPath);
    const name = nameOf(path);
    this.nodes.delete(path);
    parent?.children.delete(name);
    if (parent) parent.cversion += 1;
    undo.push(() => {
      this.nodes.set(path, n);
      parent?.children.add(name);
      if (parent) parent.cversion -= 1;
    });
    triggers.push({ path, type: 'deleted' }, { path: parentPath, type: 'children' });
  }

  private fire(triggers: Trigger[]): void {
    for (const t of triggers) {
      const hit = new Set<WatchReg>();
      for (const kind of FIRES[t.type]) {
        const regs = this.watches[kind].get(t.path);
        if (!regs) continue;
        this.watches[kind].delete(t.path);
        for (const r of regs) hit.add(r);
      }
      for (const r of hit) r.session.deliver(r, t.type);
    }
  }
}

function joinChild(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function toStat(n: ZNode): Stat {
  return { version: n.version, numChildren: n.children.size, ctime: n.ctime, mtime: n.mtime, ephemeralOwner: n.ephemeralOwner };
}

/**
 * One session of a MemoryCoordinatorStore, with ZooKeeper's semantics (see `Coordinator`). Like the ZooKeeper
 * adapter: a watcher function registered on a path several times fires once; outstanding watches fire
 * `session` when the session is lost or closed; a `children` watch on a missing node fires on its creation.
 */
export class MemoryCoordinator implements Coordinator {
  private phase: Phase = 'connected';
  private readonly listeners = new Set<(state: SessionState) => void>();
  private readonly regs = new Map<string, Map<Watcher, WatchReg>>();
  /** Watch events that happened while suspended, delivered on resume (ZooKeeper re-sets watches on reconnect). */
  private heldEvents: { reg: WatchReg; type: WatchEvent['type'] }[] = [];
  private closing: Promise<void> | undefined;

  /** @internal use `store.session()` */
  constructor(
    private readonly store: MemoryCoordinatorStore,
    private id: string,
  ) {}

  get sessionId(): string {
    return this.id;
  }

  /** @internal A call that was accepted, about to run. */
  assertStillConnected(path: string): void {
    if (this.phase === 'suspended') throw new CoordinatorError('CONNECTION_LOSS', path, `connection lost (${path})`);
    if (this.phase === 'renewing') throw new CoordinatorError('SESSION_EXPIRED', path);
  }

  /** @internal A new call. */
  assertUsable(path: string): void {
    if (this.phase === 'closed') throw new CoordinatorError('CLOSED', path, `the coordinator is closed (${path})`);
    if (this.phase !== 'connected') throw new CoordinatorError('CONNECTION_LOSS', path, `not connected (${this.phase}) (${path})`);
  }

  private emit(state: SessionState): void {
    for (const l of [...this.listeners]) {
      try {
        l(state);
      } catch {
        // A listener's failure is its own; the others still hear about the state change.
      }
    }
  }

  private emitLater(state: SessionState): Promise<void> {
    return new Promise<void>((resolve) =>
      defer(() => {
        if (this.phase !== 'closed') this.emit(state);
        resolve();
      }),
    );
  }

  onSessionState(listener: (state: SessionState) => void): () => void {
    if (this.phase === 'closed') return () => undefined;
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- watches ----

  private reg(path: string, watcher: Watcher): WatchReg {
    let byWatcher = this.regs.get(path);
    const known = byWatcher?.get(watcher);
    if (known) return known;
    const reg: WatchReg = { session: this, path, watcher, done: false };
    if (!byWatcher) this.regs.set(path, (byWatcher = new Map()));
    byWatcher.set(watcher, reg);
    return reg;
  }

  /** @internal Called by the store when a watch triggers. */
  deliver(reg: WatchReg, type: WatchEvent['type']): void {
    if (reg.done) return;
    if (this.phase === 'suspended' && type !== 'session') {
      this.heldEvents.push({ reg, type });
      return;
    }
    reg.done = true;
    this.store.unwatch(reg);
    const byWatcher = this.regs.get(reg.path);
    if (byWatcher?.get(reg.watcher) === reg) {
      byWatcher.delete(reg.watcher);
      if (byWatcher.size === 0) this.regs.delete(reg.path);
    }
    defer(() => {
      try {
        reg.watcher({ type, path: reg.path });
      } catch {
        // A watcher's failure is its own.
      }
    });
  }

  private fireSessionWatches(): void {
    const all = [...this.regs.values()].flatMap((m) => [...m.values()]);
    this.heldEvents = [];
    for (const reg of all) this.deliver(reg, 'session');
    this.regs.clear();
  }

  /** Registers the watch of a read, the way ZooKeeper does: on the node if it exists, else for its creation. */
  private arm(path: string, watcher: Watcher | undefined, kindIfPresent: WatchKind): void {
    if (!watcher) return;
    const reg = this.reg(path, watcher);
    this.store.watch(this.store.statOf(path) ? kindIfPresent : 'exist', reg);
  }

  // ---- test hooks (through the store) ----

  /** @internal */
  async expireNow(): Promise<void> {
    if (this.phase === 'closed' || this.phase === 'renewing') return;
    const old = this.id;
    this.phase = 'renewing';
    this.heldEvents = [];
    await new Promise<void>((resolve) =>
      defer(() => {
        this.emit('lost');
        this.fireSessionWatches();
        this.store.dropEphemerals(old);
        resolve();
      }),
    );
    if (this.closing) return; // closed meanwhile
    this.id = this.store.newSessionId();
    this.phase = 'connected';
    await this.emitLater('connected');
  }

  /** @internal */
  suspendNow(): void {
    if (this.phase !== 'connected') return;
    this.phase = 'suspended';
    void this.emitLater('suspended');
  }

  /** @internal */
  resumeNow(): void {
    if (this.phase !== 'suspended') return;
    this.phase = 'connected';
    const held = this.heldEvents;
    this.heldEvents = [];
    void this.emitLater('reconnected').then(() => {
      for (const { reg, type } of held) this.deliver(reg, type);
    });
  }

  // ---- the port ----

  create(path: string, data?: Buffer, mode: CreateMode = 'persistent'): Promise<string> {
    return this.store.run(this, path, () => {
      const [actual] = this.store.apply(this.id, [{ op: 'create', path, data, mode }]);
      return actual as string;
    });
  }

  mkdirp(path: string): Promise<void> {
    return this.store.run(this, path, () => this.store.mkdirp(path));
  }

  get(path: string, watch?: Watcher): Promise<NodeData | undefined> {
    return this.store.run(this, path, () => {
      validatePath(path);
      this.arm(path, watch, 'data');
      return this.store.read(path);
    });
  }

  exists(path: string, watch?: Watcher): Promise<Stat | undefined> {
    return this.store.run(this, path, () => {
      validatePath(path);
      this.arm(path, watch, 'data');
      return this.store.statOf(path);
    });
  }

  set(path: string, data: Buffer, version: number): Promise<Stat> {
    return this.store.run(this, path, () => this.store.set(path, data, version));
  }

  remove(path: string, version = -1): Promise<void> {
    return this.store.run(this, path, () => {
      this.store.apply(this.id, [{ op: 'remove', path, version }]);
    });
  }

  removeRecursive(path: string): Promise<void> {
    return this.store.run(this, path, () => this.store.removeTree(path));
  }

  children(path: string, watch?: Watcher): Promise<string[] | undefined> {
    return this.store.run(this, path, () => {
      validatePath(path);
      this.arm(path, watch, 'child');
      return this.store.childNames(path);
    });
  }

  transaction(ops: TxOp[]): Promise<void> {
    return this.store.run(this, ops[0]?.path ?? '/', () => {
      this.store.apply(this.id, ops);
    });
  }

  /** Removes this session's ephemerals, fires its outstanding watches with `session`; idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.phase = 'closed';
      this.listeners.clear();
      defer(() => {
        this.fireSessionWatches();
        this.store.dropEphemerals(this.id);
        this.store.forget(this);
        resolve();
      });
    });
    return this.closing;
  }
}
