// The in-memory adapter of the WorkQueue port, for the embedded mode and unit tests. Owns a queue server
// (`MemoryQueueStore`) with the observable semantics of a standard SQS queue, and a client
// (`MemoryWorkQueue`) over it; several clients may share one store, like several processes sharing SQS.
//
// Semantics kept from SQS: per-delivery visibility timeouts; a new receipt handle per receive; redrive to the
// dead-letter queue instead of the (maxReceiveCount+1)-th receive, keeping the message id and receive count;
// long polls woken at once by a send, a release (changeVisibility 0) or a message turning visible again;
// delaySec; QueueDoesNotExistError for unknown queues; SQS's parameter ranges. Stale receipt handles are
// answered the way SQS answers them: `delete` resolves and does nothing, `changeVisibility` rejects with a
// NotFoundError (SQS: MessageNotInflight). Not modelled: message retention, the 60 s purge cooldown, the
// 1 MiB size limit, FIFO queues, and SQS's occasional duplicate or out-of-order delivery.
import { randomUUID } from 'node:crypto';
import { monotonicClock, type Clock } from '../clock.js';
import { AbortedError, NotFoundError, OptionError } from '../errors.js';
import {
  QueueDoesNotExistError,
  type OutgoingMessage,
  type QueueMessage,
  type QueueSpec,
  type QueueStats,
  type ReceiveOptions,
  type WorkQueue,
} from './work-queue.js';

/** SQS's default visibility timeout, used for dead-letter queues that `ensureQueue` creates. */
const DEFAULT_VISIBILITY_SEC = 30;
const MAX_ATTRIBUTES = 10;
const QUEUE_NAME_RE = /^[A-Za-z0-9_-]{1,80}$/;

interface StoredMessage {
  id: string;
  body: string;
  attributes: Record<string, string>;
  /** Epoch ms; until then the message is delayed (never received) or in flight. */
  visibleAt: number;
  receiveCount: number;
  /** The latest delivery's handle; undefined before the first receive and after a move to the dead-letter queue. */
  receiptHandle: string | undefined;
}

interface Waiter {
  owner: object;
  max: number;
  visibilitySec: number;
  finish(messages: QueueMessage[]): void;
}

interface QueueState {
  name: string;
  visibilityTimeoutSec: number;
  redrive: { deadLetter: string; maxReceiveCount: number } | undefined;
  /** In send order: receive hands out the oldest visible messages first. */
  messages: Map<string, StoredMessage>;
  handles: Map<string, StoredMessage>;
  waiters: Waiter[];
  /** The timer that wakes the waiters when the next invisible message turns visible. */
  wake: { at: number; cancel: AbortController } | undefined;
}

function intIn(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(field, `must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

function snapshot(m: StoredMessage): QueueMessage {
  return {
    id: m.id,
    body: m.body,
    receiptHandle: m.receiptHandle ?? '',
    receiveCount: m.receiveCount,
    attributes: { ...m.attributes },
  };
}

export interface MemoryQueueStoreOptions {
  /** Time source for visibility timeouts, delays and long polls. Default: the system clock, read monotonically (`monotonicClock`). */
  clock?: Clock;
}

/**
 * The queue "server": all queues, messages and waiting receives. Use it through `MemoryWorkQueue`; its
 * methods are public so that clients can share it, and they validate like SQS does.
 */
export class MemoryQueueStore {
  readonly clock: Clock;
  private readonly queues = new Map<string, QueueState>();

  constructor(opts: MemoryQueueStoreOptions = {}) {
    // Deadlines here are waited for with timers, which run on the monotonic clock: so must the deadlines, or a
    // wall clock stepped back (NTP, a VM) would hold a message invisible, and a long poll empty, for that long.
    this.clock = opts.clock ?? monotonicClock;
  }

  /** Creates the dead-letter queue and the queue when missing; an existing queue keeps its settings (as with SQS). */
  ensureQueue(spec: QueueSpec): void {
    for (const [field, name] of [
      ['name', spec.name],
      ['deadLetter', spec.deadLetter],
    ] as const) {
      if (!QUEUE_NAME_RE.test(name)) throw new OptionError(field, `"${name}" is not a valid queue name (1-80 of [A-Za-z0-9_-])`);
    }
    intIn('maxReceiveCount', spec.maxReceiveCount, 1, 1000);
    intIn('visibilityTimeoutSec', spec.visibilityTimeoutSec, 0, 43_200);
    if (!this.queues.has(spec.deadLetter)) this.create(spec.deadLetter, DEFAULT_VISIBILITY_SEC, undefined);
    if (!this.queues.has(spec.name)) {
      this.create(spec.name, spec.visibilityTimeoutSec, { deadLetter: spec.deadLetter, maxReceiveCount: spec.maxReceiveCount });
    }
  }

  has(name: string): boolean {
    return this.queues.has(name);
  }

  list(prefix: string): string[] {
    return [...this.queues.keys()].filter((n) => n.startsWith(prefix)).sort();
  }

  /** Enqueues every message or, when one of them is invalid, none. */
  send(queue: string, msgs: OutgoingMessage[]): void {
    const q = this.get(queue);
    for (const m of msgs) {
      if (typeof m.body !== 'string' || m.body.length === 0) throw new OptionError('body', 'must be a non-empty string (SQS rejects empty messages)');
      if (m.delaySec !== undefined) intIn('delaySec', m.delaySec, 0, 900);
      const attrs = Object.entries(m.attributes ?? {});
      if (attrs.length > MAX_ATTRIBUTES) throw new OptionError('attributes', `at most ${MAX_ATTRIBUTES} per message (SQS), got ${attrs.length}`);
      for (const [k, v] of attrs) {
        if (typeof v !== 'string' || v.length === 0) throw new OptionError(`attributes.${k}`, 'must be a non-empty string');
      }
    }
    const now = this.clock.now();
    for (const m of msgs) {
      const id = randomUUID();
      q.messages.set(id, {
        id,
        body: m.body,
        attributes: { ...m.attributes },
        visibleAt: now + (m.delaySec ?? 0) * 1000,
        receiveCount: 0,
        receiptHandle: undefined,
      });
    }
    this.notify(q);
    this.schedule(q);
  }

  /** `owner` is the client that asks; closing it ends its long polls. */
  receive(queue: string, opts: ReceiveOptions, owner: object): Promise<QueueMessage[]> {
    const { signal } = opts;
    if (signal?.aborted) return Promise.resolve([]);
    const q = this.get(queue);
    const max = intIn('max', opts.max, 1, 10);
    const waitSec = intIn('waitSec', opts.waitSec, 0, 20);
    const visibilitySec = intIn('visibilitySec', opts.visibilitySec, 0, 43_200);
    const got = this.take(q, max, visibilitySec);
    if (got.length > 0 || waitSec === 0) return Promise.resolve(got);

    return new Promise<QueueMessage[]>((resolve) => {
      const timer = new AbortController();
      let done = false;
      const waiter: Waiter = {
        owner,
        max,
        visibilitySec,
        finish: (messages) => {
          if (done) return;
          done = true;
          const i = q.waiters.indexOf(waiter);
          if (i >= 0) q.waiters.splice(i, 1);
          timer.abort();
          signal?.removeEventListener('abort', onAbort);
          this.schedule(q);
          resolve(messages);
        },
      };
      const onAbort = (): void => waiter.finish([]);
      signal?.addEventListener('abort', onAbort, { once: true });
      q.waiters.push(waiter);
      this.clock.sleep(waitSec * 1000, timer.signal).then(
        () => waiter.finish([]),
        () => undefined, // cancelled: the waiter already finished
      );
      this.schedule(q);
    });
  }

  /** A stale or unknown receipt handle is ignored, as SQS does ("succeeds, but the message is not deleted"). */
  delete(queue: string, receiptHandle: string): void {
    const q = this.get(queue);
    const m = q.handles.get(receiptHandle);
    if (!m) return;
    q.handles.delete(receiptHandle);
    q.messages.delete(m.id);
  }

  /** Rejects a handle that is not the latest delivery of a message still in flight, as SQS does. */
  changeVisibility(queue: string, receiptHandle: string, seconds: number): void {
    const q = this.get(queue);
    intIn('seconds', seconds, 0, 43_200);
    const m = q.handles.get(receiptHandle);
    const now = this.clock.now();
    if (!m || m.visibleAt <= now) {
      throw new NotFoundError(`in-flight delivery ${receiptHandle} on queue ${queue}`, {
        hint: 'the message was deleted, turned visible again or was received again since',
        context: { queue, receiptHandle },
      });
    }
    m.visibleAt = now + seconds * 1000;
    if (seconds === 0) this.notify(q);
    this.schedule(q);
  }

  stats(queue: string): QueueStats {
    const q = this.get(queue);
    const now = this.clock.now();
    const s: QueueStats = { visible: 0, inFlight: 0, delayed: 0 };
    for (const m of q.messages.values()) {
      if (m.visibleAt <= now) s.visible++;
      else if (m.receiptHandle !== undefined) s.inFlight++;
      else s.delayed++;
    }
    return s;
  }

  /** Drops every message, in flight and delayed ones included. */
  purge(queue: string): void {
    const q = this.get(queue);
    q.messages.clear();
    q.handles.clear();
    this.schedule(q);
  }

  /** Removes a queue and ends its long polls; a missing queue is not an error. */
  deleteQueue(name: string): void {
    const q = this.queues.get(name);
    if (!q) return;
    this.queues.delete(name);
    for (const w of [...q.waiters]) w.finish([]);
    this.cancelWake(q);
  }

  /** Ends every long poll of `owner` with no messages (its client is closing). */
  release(owner: object): void {
    for (const q of this.queues.values()) {
      for (const w of q.waiters.filter((x) => x.owner === owner)) w.finish([]);
    }
  }

  private create(name: string, visibilityTimeoutSec: number, redrive: QueueState['redrive']): void {
    this.queues.set(name, {
      name,
      visibilityTimeoutSec,
      redrive,
      messages: new Map(),
      handles: new Map(),
      waiters: [],
      wake: undefined,
    });
  }

  private get(name: string): QueueState {
    const q = this.queues.get(name);
    if (!q) throw new QueueDoesNotExistError(name);
    return q;
  }

  /** Delivers up to `max` visible messages, moving those past maxReceiveCount to the dead-letter queue instead. */
  private take(q: QueueState, max: number, visibilitySec: number): QueueMessage[] {
    const now = this.clock.now();
    const out: QueueMessage[] = [];
    const dlq = q.redrive ? this.queues.get(q.redrive.deadLetter) : undefined;
    let moved = false;
    for (const m of q.messages.values()) {
      if (out.length >= max) break;
      if (m.visibleAt > now) continue;
      if (q.redrive && dlq && dlq !== q && m.receiveCount >= q.redrive.maxReceiveCount) {
        q.messages.delete(m.id);
        if (m.receiptHandle !== undefined) q.handles.delete(m.receiptHandle);
        dlq.messages.set(m.id, { ...m, visibleAt: now, receiptHandle: undefined });
        moved = true;
        continue;
      }
      if (m.receiptHandle !== undefined) q.handles.delete(m.receiptHandle);
      m.receiptHandle = randomUUID();
      m.receiveCount++;
      m.visibleAt = now + visibilitySec * 1000;
      q.handles.set(m.receiptHandle, m);
      out.push(snapshot(m));
    }
    if (moved && dlq) this.notify(dlq);
    return out;
  }

  /** Hands visible messages to waiting receives, oldest waiter first. */
  private notify(q: QueueState): void {
    for (const w of [...q.waiters]) {
      const got = this.take(q, w.max, w.visibilitySec);
      if (got.length === 0) break;
      w.finish(got);
    }
  }

  /** Keeps one timer per queue, armed for the next message to turn visible, only while someone waits. */
  private schedule(q: QueueState): void {
    if (q.waiters.length === 0 || this.queues.get(q.name) !== q) return this.cancelWake(q);
    const now = this.clock.now();
    let next = Infinity;
    for (const m of q.messages.values()) if (m.visibleAt > now && m.visibleAt < next) next = m.visibleAt;
    if (next === Infinity) return this.cancelWake(q);
    if (q.wake?.at === next) return;
    this.cancelWake(q);
    const cancel = new AbortController();
    q.wake = { at: next, cancel };
    this.clock.sleep(Math.max(1, next - now), cancel.signal).then(
      () => {
        if (q.wake?.cancel === cancel) q.wake = undefined;
        this.notify(q);
        this.schedule(q);
      },
      () => undefined, // cancelled: a newer timer, or nobody waits any more
    );
  }

  private cancelWake(q: QueueState): void {
    q.wake?.cancel.abort();
    q.wake = undefined;
  }
}

export interface MemoryWorkQueueOptions {
  /** The queues to talk to. Default: a store of its own (nothing shared). */
  store?: MemoryQueueStore;
  /** Clock of the store created when none is given; a shared store brings its own. Default: the system clock, read monotonically (`monotonicClock`). */
  clock?: Clock;
}

export class MemoryWorkQueue implements WorkQueue {
  readonly store: MemoryQueueStore;
  private closed = false;

  constructor(opts: MemoryWorkQueueOptions = {}) {
    if (opts.store && opts.clock) throw new OptionError('clock', 'give the clock to the shared MemoryQueueStore instead');
    this.store = opts.store ?? new MemoryQueueStore({ clock: opts.clock });
  }

  async ensureQueue(spec: QueueSpec): Promise<void> {
    this.assertOpen();
    this.store.ensureQueue(spec);
  }

  async exists(name: string): Promise<boolean> {
    this.assertOpen();
    return this.store.has(name);
  }

  async send(queue: string, msg: OutgoingMessage): Promise<void> {
    this.assertOpen();
    this.store.send(queue, [msg]);
  }

  async sendBatch(queue: string, msgs: OutgoingMessage[]): Promise<void> {
    this.assertOpen();
    this.store.send(queue, msgs);
  }

  async receive(queue: string, opts: ReceiveOptions): Promise<QueueMessage[]> {
    this.assertOpen();
    const got = await this.store.receive(queue, opts, this);
    // A loop of empty short polls would otherwise run on microtasks alone and starve every timer and socket;
    // SQS's network round trip gives the event loop that turn for free.
    if (got.length === 0) await new Promise((resolve) => setImmediate(resolve));
    return got;
  }

  async delete(queue: string, receiptHandle: string): Promise<void> {
    this.assertOpen();
    this.store.delete(queue, receiptHandle);
  }

  async changeVisibility(queue: string, receiptHandle: string, seconds: number): Promise<void> {
    this.assertOpen();
    this.store.changeVisibility(queue, receiptHandle, seconds);
  }

  async stats(queue: string): Promise<QueueStats> {
    this.assertOpen();
    return this.store.stats(queue);
  }

  async list(prefix: string): Promise<string[]> {
    this.assertOpen();
    return this.store.list(prefix);
  }

  async purge(queue: string): Promise<void> {
    this.assertOpen();
    this.store.purge(queue);
  }

  /** Not part of the port: removes a queue (test cleanup, teardown tooling). A missing queue is not an error. */
  async deleteQueue(queue: string): Promise<void> {
    this.assertOpen();
    this.store.deleteQueue(queue);
  }

  /** Ends this client's long polls with no messages; the store and other clients carry on. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.store.release(this);
  }

  private assertOpen(): void {
    if (this.closed) throw new AbortedError('the in-memory work queue is closed', { retryable: false });
  }
}
