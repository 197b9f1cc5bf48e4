// The notifier: posts notifications to a webhook (`--notify-url`) without ever holding up the work.
// `notify()` only queues (bounded: when full, the oldest waiting notification is dropped and logged); one
// sender posts in the background with a timeout per request and retries with exponential backoff.
// Deduplication across replicas: before posting, the sender creates <root>/notifications/<key>
// (create-if-absent); whoever created it posts, the others drop the event. If ZooKeeper cannot be asked, it
// posts anyway — a duplicate alert is better than a missed one. Markers are pruned after `retentionMs`.
import { hostname } from 'node:os';
import { backoffDelay } from '../backoff.js';
import { encodeSegment, fromJsonBuffer, isNodeExists, isNoNode, joinPath, toJsonBuffer, type Coordinator } from '../coordination/coordinator.js';
import { delay } from '../delay.js';
import { describeError, OptionError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TaskermanMetrics } from '../metrics/metrics.js';
import { toJsonPayload, toSlackPayload, type Notification, type NotifyFormat } from './notification.js';

export interface NotifierOptions {
  url: string;
  format?: NotifyFormat;
  /** For deduplication markers; without it every notification is posted. */
  coordinator?: Coordinator;
  /** ZooKeeper root (markers live under <root>/notifications). */
  root?: string;
  logger: Logger;
  metrics?: TaskermanMetrics;
  /** Who posts (in the payload). */
  component: string;
  /** Per request. Default 5 s. */
  timeoutMs?: number;
  /** Retries after the first post. Default 5. */
  retries?: number;
  /** First retry delay. Default 1 s (then doubling, with jitter, at most 60 s). */
  backoffMs?: number;
  /** Notifications waiting at most; older ones are dropped past this. Default 1000. */
  maxQueued?: number;
  /** Markers older than this are removed. Default 7 days. */
  retentionMs?: number;
  /** How often markers are pruned. Default 1 h. */
  pruneIntervalMs?: number;
  fetch?: typeof fetch;
}

interface Marker {
  by: string;
  at: string;
  kind: string;
}

export function validateNotifyUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new OptionError('notify-url', `"${url}" is not a URL: give the webhook, e.g. https://hooks.slack.com/services/...`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new OptionError('notify-url', `"${url}" must be an http:// or https:// URL`);
  return url;
}

export class Notifier {
  private readonly o: Required<Omit<NotifierOptions, 'coordinator' | 'root' | 'metrics'>> & Pick<NotifierOptions, 'coordinator' | 'root' | 'metrics'>;
  private readonly queue: Notification[] = [];
  private readonly ac = new AbortController();
  private wake: (() => void) | undefined;
  private delivering = false;
  private pump: Promise<void> | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  /** Keys this process already handled (posted or found claimed): not asked for again. */
  private readonly seen = new Set<string>();
  private readonly host = hostname();

  constructor(opts: NotifierOptions) {
    validateNotifyUrl(opts.url);
    this.o = {
      format: 'json',
      timeoutMs: 5_000,
      retries: 5,
      backoffMs: 1_000,
      maxQueued: 1_000,
      retentionMs: 7 * 86_400_000,
      pruneIntervalMs: 3_600_000,
      fetch: globalThis.fetch.bind(globalThis),
      ...opts,
    };
  }

  private get dir(): string | undefined {
    return this.o.root ? joinPath(this.o.root, 'notifications') : undefined;
  }

  async start(): Promise<void> {
    this.pump = this.run();
    if (this.o.coordinator && this.dir) {
      this.pruneTimer = setInterval(() => void this.prune().catch((err: unknown) => this.o.logger.warn({ err: describeError(err) }, 'pruning notification markers failed')), this.o.pruneIntervalMs);
      this.pruneTimer.unref();
    }
  }

  /**
   * Gives the notifications queued `drainMs` to go out (a daemon's last events are often the ones that
   * matter), then stops: what is left is logged as dropped, a post in flight is aborted.
   */
  async stop(drainMs = 3_000): Promise<void> {
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    const deadline = Date.now() + drainMs;
    while ((this.queue.length > 0 || this.delivering) && Date.now() < deadline) await delay(50);
    this.ac.abort();
    this.wake?.();
    await this.pump;
    for (const n of this.queue.splice(0)) this.drop(n, 'stopping');
  }

  /** Queues a notification; never waits, never throws. */
  notify(n: Notification): void {
    if (this.seen.has(n.key) || this.ac.signal.aborted) return;
    this.seen.add(n.key);
    if (this.seen.size > 10_000) this.seen.delete(this.seen.values().next().value as string);
    this.queue.push(n);
    while (this.queue.length > this.o.maxQueued) this.drop(this.queue.shift() as Notification, 'queue full');
    this.wake?.();
  }

  /** Notifications waiting to be posted (not counting the one in flight). */
  get pending(): number {
    return this.queue.length;
  }

  private drop(n: Notification, why: string): void {
    this.o.metrics?.notifications.inc({ kind: n.kind, result: 'dropped' });
    this.o.logger.warn({ kind: n.kind, key: n.key, why }, `notification dropped: ${n.summary}`);
  }

  private async run(): Promise<void> {
    const signal = this.ac.signal;
    while (!signal.aborted) {
      const n = this.queue.shift();
      if (!n) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      this.delivering = true;
      try {
        await this.deliver(n);
      } catch (err) {
        this.o.logger.warn({ err: describeError(err), kind: n.kind }, 'notification failed');
      } finally {
        this.delivering = false;
      }
    }
  }

  /** True when this process should post `n` (it created the marker, or markers cannot be used). */
  private async claim(n: Notification): Promise<boolean> {
    const { coordinator } = this.o;
    const dir = this.dir;
    if (!coordinator || !dir) return true;
    try {
      await coordinator.mkdirp(dir);
      await coordinator.create(joinPath(dir, encodeSegment(n.key)), toJsonBuffer({ by: `${this.o.component}@${this.host}:${process.pid}`, at: new Date().toISOString(), kind: n.kind } satisfies Marker), 'persistent');
      return true;
    } catch (err) {
      if (isNodeExists(err)) return false;
      this.o.logger.warn({ err: describeError(err), key: n.key }, 'cannot record the notification marker; posting anyway');
      return true;
    }
  }

  private async deliver(n: Notification): Promise<void> {
    if (!(await this.claim(n))) {
      this.o.metrics?.notifications.inc({ kind: n.kind, result: 'duplicate' });
      return;
    }
    const source = { host: this.host, component: this.o.component };
    const body = JSON.stringify(this.o.format === 'slack' ? toSlackPayload(n, source) : toJsonPayload(n, source));
    const signal = this.ac.signal;
    for (let attempt = 0; attempt <= this.o.retries && !signal.aborted; attempt++) {
      if (attempt > 0) await delay(backoffDelay(attempt, { baseMs: this.o.backoffMs, maxMs: 60_000 }), signal);
      if (signal.aborted) break;
      try {
        const res = await this.o.fetch(this.o.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'taskerman-notifier' },
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(this.o.timeoutMs)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.o.metrics?.notifications.inc({ kind: n.kind, result: 'sent' });
          this.o.logger.info({ kind: n.kind, key: n.key }, `notification sent: ${n.summary}`);
          return;
        }
        // A 4xx other than 429 will not get better by asking again.
        if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          this.o.logger.warn({ kind: n.kind, status: res.status }, 'notification refused by the receiver; not retried');
          break;
        }
        this.o.logger.warn({ kind: n.kind, status: res.status, attempt }, 'notification not accepted; retrying');
      } catch (err) {
        this.o.logger.warn({ kind: n.kind, err: describeError(err), attempt }, 'notification post failed; retrying');
      }
    }
    this.o.metrics?.notifications.inc({ kind: n.kind, result: 'failed' });
  }

  /** Removes markers older than the retention. Returns how many went. */
  async prune(now = Date.now()): Promise<number> {
    const { coordinator } = this.o;
    const dir = this.dir;
    if (!coordinator || !dir) return 0;
    let removed = 0;
    for (const k of (await coordinator.children(dir)) ?? []) {
      const d = await coordinator.get(joinPath(dir, k));
      if (!d) continue;
      const at = Date.parse(fromJsonBuffer<Marker>(d.data).at ?? '') || d.stat.ctime;
      if (now - at <= this.o.retentionMs) continue;
      try {
        await coordinator.remove(joinPath(dir, k));
        removed++;
      } catch (err) {
        if (!isNoNode(err)) throw err;
      }
    }
    return removed;
  }
}
