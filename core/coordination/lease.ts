// The m-of-n slots of a task, as a ZooKeeper semaphore: every node that wants a slot creates an ephemeral
// sequential znode under <root>/leases/<cluster>/<task_id>; the `limit` lowest sequence numbers hold the
// slots. That gives FIFO fairness (invariant 6), frees a slot when its holder's session dies, and wakes
// waiters through watches rather than polling.
//
// Losing the connection is losing the slot (Apache Curator tech note 14): when the session is suspended
// or lost, every lease taken through it is marked lost and its `signal` aborts, so the runner starts no
// further step on a slot it is not sure it holds. The lease's sequence number is a fencing token.
import {
  CoordinatorError,
  fromJsonBuffer,
  isNoNode,
  joinPath,
  toJsonBuffer,
  type Coordinator,
  type SessionState,
} from './coordinator.js';
import { AbortedError, SessionLostError } from '../errors.js';

export interface SlotHolder {
  taskId: string;
  node: string;
  cluster: string;
}

export interface AcquireOptions {
  limit: number;
  holder: SlotHolder;
  signal?: AbortSignal;
  /** Called with our place in the queue (0 = next in line) each time it changes while waiting. */
  onWaiting?: (ahead: number) => void;
}

export interface Lease {
  /** Sequence number of our znode: grows with every request for the task's slots. */
  readonly fencingToken: number;
  readonly path: string;
  /** Aborts when the lease can no longer be trusted (session suspended or lost). */
  readonly signal: AbortSignal;
  readonly lost: boolean;
  release(): Promise<void>;
}

export interface SlotInfo {
  node: string;
  taskId: string;
  fencingToken: number;
  holding: boolean;
  requestedAt: string;
}

const PREFIX = 'slot-';

function seqOf(name: string): number {
  return Number(name.slice(name.lastIndexOf('-') + 1));
}

function sortBySeq(names: string[]): string[] {
  return names.filter((n) => n.startsWith(PREFIX)).sort((a, b) => seqOf(a) - seqOf(b));
}

class HeldLease implements Lease {
  private readonly ac = new AbortController();
  private released = false;
  private unsubscribe: () => void;

  constructor(
    private readonly coordinator: Coordinator,
    readonly path: string,
    readonly fencingToken: number,
  ) {
    this.unsubscribe = coordinator.onSessionState((s) => this.onSession(s));
  }

  private onSession(s: SessionState): void {
    if (s === 'suspended' || s === 'lost') this.markLost(`ZooKeeper session ${s} while holding slot ${this.path}`);
  }

  markLost(reason: string): void {
    if (!this.ac.signal.aborted) this.ac.abort(new SessionLostError(reason));
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }
  get lost(): boolean {
    return this.ac.signal.aborted;
  }

  /**
   * Gives the slot up. If the znode cannot be removed now (connection suspended), it is removed as soon as
   * the same session is back: a reconnected session keeps its ephemerals, so a slot left behind would be
   * held for as long as this process lives. After a lost session the znode is already gone.
   */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.unsubscribe();
    try {
      await this.coordinator.remove(this.path);
    } catch (err) {
      // Gone already, or gone with its session (expired, or closed by us).
      if (isNoNode(err) || isSessionGone(err)) return;
      if (!(err instanceof CoordinatorError && err.code === 'CONNECTION_LOSS')) throw err;
      this.removeWhenBack();
    }
  }

  private removeWhenBack(): void {
    const off = this.coordinator.onSessionState((s) => {
      if (s === 'lost') return off();
      if (s !== 'reconnected' && s !== 'connected') return;
      this.coordinator.remove(this.path).then(off, (err: unknown) => {
        if (isNoNode(err)) off();
      });
    });
  }
}

function isSessionGone(err: unknown): boolean {
  return err instanceof CoordinatorError && (err.code === 'SESSION_EXPIRED' || err.code === 'CLOSED');
}

export class Semaphore {
  constructor(
    private readonly coordinator: Coordinator,
    /** <root>/leases/<cluster>/<task_id> */
    readonly dir: string,
  ) {}

  /**
   * Waits for one of `limit` slots. Rejects with AbortedError when `signal` aborts and with SessionLostError
   * when the session is suspended or lost while waiting; in both cases our place in the queue is given up.
   */
  async acquire(opts: AcquireOptions): Promise<Lease> {
    const { coordinator } = this;
    if (opts.signal?.aborted) throw new AbortedError('gave up waiting for a slot', { cause: opts.signal.reason });
    await coordinator.mkdirp(this.dir);
    const data = toJsonBuffer({ ...opts.holder, requestedAt: new Date().toISOString() });
    const path = await coordinator.create(joinPath(this.dir, PREFIX), data, 'ephemeral_sequential');
    const name = path.slice(path.lastIndexOf('/') + 1);
    const lease = new HeldLease(coordinator, path, seqOf(name));

    let wake: (() => void) | undefined;
    const poke = () => wake?.();
    const onAbort = () => poke();
    opts.signal?.addEventListener('abort', onAbort);
    let lastAhead = -1;
    const armed = new Set<string>();
    try {
      for (;;) {
        if (opts.signal?.aborted) throw new AbortedError('gave up waiting for a slot', { cause: opts.signal.reason });
        if (lease.lost) throw lease.signal.reason as Error;
        const changed = new Promise<void>((resolve) => (wake = resolve));
        const order = sortBySeq((await coordinator.children(this.dir)) ?? []);
        const idx = order.indexOf(name);
        if (idx < 0) throw new SessionLostError(`slot request ${path} vanished (session expired while waiting)`);
        if (idx < opts.limit) return lease;
        const ahead = idx - opts.limit;
        if (ahead !== lastAhead) {
          lastAhead = ahead;
          opts.onWaiting?.(ahead);
        }
        // Watch only the `limit` requests right before ours, not the whole directory: we can only get a slot
        // after more than `idx - limit` requests ahead of us are gone, and only `idx - limit` are outside this
        // window, so at least one of the watched ones must go first. A release thus wakes at most `limit`
        // waiters (the next in line among them) instead of every waiter: no herd on large rollouts.
        // A one-shot watch stays armed until its node changes, so only the nodes new to the window need one.
        const window = order.slice(idx - opts.limit, idx).filter((n) => !armed.has(n));
        const stats = await Promise.all(
          window.map((n) => {
            armed.add(n);
            return coordinator.exists(joinPath(this.dir, n), (ev) => {
              armed.delete(n);
              poke();
              if (ev.type === 'session') armed.clear();
            });
          }),
        );
        if (stats.some((st) => st === undefined)) continue;
        const onLost = () => poke();
        lease.signal.addEventListener('abort', onLost, { once: true });
        await changed;
        lease.signal.removeEventListener('abort', onLost);
      }
    } catch (err) {
      await lease.release().catch(() => undefined);
      throw err;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Who holds and who waits for this task's slots, in queue order. */
  async inspect(limit: number): Promise<SlotInfo[]> {
    const order = sortBySeq((await this.coordinator.children(this.dir)) ?? []);
    const read = await Promise.all(order.map(async (name) => ({ name, d: await this.coordinator.get(joinPath(this.dir, name)) })));
    // Requests that vanished between the listing and the read were released: the holders are the first
    // `limit` of those still there.
    return read
      .filter((r): r is { name: string; d: NonNullable<typeof r.d> } => r.d !== undefined)
      .map(({ name, d }, i) => {
        const h = fromJsonBuffer<SlotHolder & { requestedAt: string }>(d.data);
        return { node: h.node, taskId: h.taskId, fencingToken: seqOf(name), holding: i < limit, requestedAt: h.requestedAt };
      });
  }
}
