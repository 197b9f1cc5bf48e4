// The waiter's side of the cluster budget: find the node's grant if it already has one (a runner back after a
// reboot or a crash finds the grant its task was given before), or ask for one and wait. A waiter watches its
// own node's grant znode only (the keeper writes it), so waiting costs nothing per release of another node.
//
// A grant is persistent: it outlives the runner's process and its ZooKeeper session. It ends only when the
// node's post_check has passed (released in the same transaction as the node's final record), when an
// operator releases it, or when a router sees the node leave the cluster. The held grant's `signal` aborts
// when the grant is gone or no longer this task's, so an action never goes on under a grant it lost.
import { fromJsonBuffer, isNoNode, isZkUnreachable, joinPath, type TxOp } from '../coordination/coordinator.js';
import { AbortedError, GrantLostError } from '../errors.js';
import type { BudgetStore } from './budget-store.js';
import type { ProtectedSequential } from '../coordination/protected-sequential.js';
import type { GrantRecord, RequestRecord } from './records.js';

export interface HeldGrant {
  readonly cluster: string;
  readonly node: string;
  readonly path: string;
  readonly record: GrantRecord;
  /** The grant znode's version as last seen (the release is guarded on it). */
  readonly version: number;
  /** Aborts with GrantLostError when the grant is released by someone else or given to another task. */
  readonly signal: AbortSignal;
  /** The op that gives the grant back, for the transaction of the node's final record. */
  releaseOp(): TxOp;
  /** Re-reads the grant: false (and the signal aborted) when it is no longer ours. */
  verify(): Promise<boolean>;
  /** Stops watching (the grant itself is kept). */
  close(): void;
  /** The node already held this grant when the wait began (given before a reboot or a crash of its runner). */
  readonly resumed: boolean;
}

function isOurs(g: GrantRecord, req: Pick<RequestRecord, 'kind' | 'task_id'>, request?: string): boolean {
  if (g.kind !== req.kind) return false;
  return req.kind === 'task' ? g.task_id === req.task_id : g.request === request;
}

class WatchedGrant implements HeldGrant {
  private readonly ac = new AbortController();
  private closed = false;
  private readonly offSession: () => void;

  constructor(
    private readonly store: BudgetStore,
    readonly cluster: string,
    readonly node: string,
    public record: GrantRecord,
    public version: number,
    readonly resumed: boolean,
  ) {
    this.offSession = store.coordinator.onSessionState((s) => {
      if (s === 'reconnected' || s === 'connected') this.arm();
    });
    this.arm();
  }

  get path(): string {
    return this.store.paths.grant(this.cluster, this.node);
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  releaseOp(): TxOp {
    return { op: 'remove', path: this.path, version: this.version };
  }

  private lose(why: string): void {
    if (!this.ac.signal.aborted) this.ac.abort(new GrantLostError(`grant of ${this.cluster}/${this.node} (token ${this.record.token}) ${why}`));
  }

  async verify(): Promise<boolean> {
    const d = await this.store.coordinator.get(this.path);
    if (!d) {
      this.lose('was released');
      return false;
    }
    const g = fromJsonBuffer<GrantRecord>(d.data);
    if (g.token !== this.record.token) {
      this.lose(`was replaced by token ${g.token} (${g.task_id ? `task ${g.task_id}` : `hold by ${g.by}`})`);
      return false;
    }
    this.record = g;
    this.version = d.stat.version;
    return true;
  }

  private arm(): void {
    if (this.closed || this.ac.signal.aborted) return;
    this.store.coordinator
      .exists(this.path, (ev) => {
        if (this.closed) return;
        if (ev.type === 'deleted') return this.lose('was released');
        // Data changed (marked dead), or the watch ended with a connection: read again.
        this.verify().then(
          (ok) => ok && this.arm(),
          () => undefined,
        );
      })
      .then(
        (st) => {
          if (!st) this.lose('was released');
        },
        // Not connected: armed again when the session is back.
        () => undefined,
      );
  }

  close(): void {
    this.closed = true;
    this.offSession();
  }
}

/** The node's grant, if it holds one for this task (granted before a reboot or a crash of its runner). */
export async function findGrant(store: BudgetStore, cluster: string, node: string, taskId: string): Promise<HeldGrant | undefined> {
  const d = await store.coordinator.get(store.paths.grant(cluster, node));
  if (!d) return undefined;
  const g = fromJsonBuffer<GrantRecord>(d.data);
  if (!isOurs(g, { kind: 'task', task_id: taskId })) return undefined;
  return new WatchedGrant(store, cluster, node, g, d.stat.version, true);
}

/** A waiter reads its grant again at least this often, whatever its watches say. */
const RECHECK_MS = 15_000;

export interface WaitOptions {
  signal?: AbortSignal;
  /** Called once the request is queued, with its name. */
  onQueued?: (request: string) => void;
}

/**
 * Asks the cluster's budget for a grant for `req.node` and waits until the keeper gives it. When the wait is
 * given up (signal), the request is withdrawn, and a grant that arrived in the same instant is given back (no
 * step ran under it). If the session is lost while waiting, the request (ephemeral) is made again.
 */
export async function waitForGrant(store: BudgetStore, cluster: string, req: RequestRecord, opts: WaitOptions = {}): Promise<HeldGrant> {
  const c = store.coordinator;
  const grantPath = store.paths.grant(cluster, req.node);
  if (opts.signal?.aborted) throw new AbortedError('gave up waiting for a grant', { cause: opts.signal.reason });
  const taskId = req.kind === 'task' ? req.task_id : undefined;
  // Every request of this wait comes from one protected creator: a request whose reply was lost is found
  // again instead of being made twice (a second request would be granted later, to nobody).
  const requester = store.requester(cluster);
  let wake: (() => void) | undefined;
  const poke = () => wake?.();
  // Made before the first watch is set, so that a watch firing before the loop below starts is not missed.
  let changed = new Promise<void>((resolve) => (wake = resolve));
  const offSession = c.onSessionState(poke);
  opts.signal?.addEventListener('abort', poke);
  let done = false;
  try {
    // One round trip on the way to every grant: a watch on the node's grant (set whether or not there is one;
    // ZooKeeper answers a session's requests in order, so it is set before the request below exists and no
    // grant for it can be missed) and the request go out together. When the node already holds this task's
    // grant (a runner back after a reboot), the request is withdrawn: the keeper never grants a node that holds
    // a grant, so it cannot be granted meanwhile.
    const [held, first] = await Promise.allSettled([c.exists(grantPath, poke), store.request(cluster, req, requester)]);
    if (held.status === 'rejected' && !isZkUnreachable(held.reason)) throw held.reason;
    if (first.status === 'rejected' && !isZkUnreachable(first.reason)) throw first.reason;
    if (held.status === 'fulfilled' && held.value && taskId) {
      // (Not `done`: the request just made is withdrawn on the way out; the grant is not this wait's to give back.)
      const resumed = await findGrant(store, cluster, req.node, taskId);
      if (resumed) return resumed;
    }
    // Not connected: the request is made (or found) in the loop below once the session is back.
    let name = first.status === 'fulfilled' ? first.value : undefined;
    if (name !== undefined) opts.onQueued?.(name);
    // With both answered, the node's grant is watched and the request is in: nothing to read until a watch fires.
    let look = held.status === 'rejected' || name === undefined;
    for (;;) {
      if (opts.signal?.aborted) throw new AbortedError('gave up waiting for a grant', { cause: opts.signal.reason });
      try {
        if (look) {
          changed = new Promise<void>((resolve) => (wake = resolve));
          if (name === undefined) {
            name = await store.request(cluster, req, requester);
            opts.onQueued?.(name);
          }
          const d = await c.get(grantPath, poke);
          if (d) {
            const g = fromJsonBuffer<GrantRecord>(d.data);
            if (isOurs(g, req, name)) {
              done = true;
              // The granted request is gone with the grant; one left from a re-ask must not be granted later.
              if (g.request !== name) await store.withdraw(cluster, name).catch(() => undefined);
              return new WatchedGrant(store, cluster, req.node, g, d.stat.version, false);
            }
          }
          // Our request is ephemeral: after a lost session it is gone, and we ask again (at the back of the queue).
          // It is also gone when the keeper granted it since the read above: look at the grant again first, or a
          // second request would be granted after this one's work is done (a grant nobody releases).
          const mine = await c.exists(joinPath(store.paths.requests(cluster), name));
          if (!mine) {
            const again = await c.get(grantPath);
            if (again && isOurs(fromJsonBuffer<GrantRecord>(again.data), req, name)) continue;
            name = await store.request(cluster, req, requester);
            opts.onQueued?.(name);
            continue;
          }
        }
      } catch (err) {
        if (!isZkUnreachable(err)) throw err;
        // Not connected: the session listener pokes us when it is back.
      }
      look = true;
      // A watch can be lost with a connection (the session listener covers most of that); look again now and then.
      const safety = setTimeout(poke, RECHECK_MS);
      await changed;
      clearTimeout(safety);
    }
  } finally {
    offSession();
    opts.signal?.removeEventListener('abort', poke);
    if (!done) await giveUp(store, cluster, req, requester).catch(() => undefined);
  }
}

async function giveUp(store: BudgetStore, cluster: string, req: RequestRecord, requester: ProtectedSequential): Promise<void> {
  // Every request this wait made, also one whose reply was lost.
  const names = await requester.owned();
  for (const n of names) await store.withdraw(cluster, n);
  // Granted in the same instant we gave up: nothing ran under it, so it goes back at once.
  const d = await store.coordinator.get(store.paths.grant(cluster, req.node));
  if (!d) return;
  const g = fromJsonBuffer<GrantRecord>(d.data);
  if (g.request !== undefined && requester.owns(g.request)) {
    await store.coordinator.remove(store.paths.grant(cluster, req.node), d.stat.version).catch((err: unknown) => {
      if (!isNoNode(err)) throw err;
    });
  }
}
