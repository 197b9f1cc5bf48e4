// Waiting for a condition: ask `probe` until it says yes, with a deadline and the action's abort signal,
// never a fixed sleep. A probe that throws counts as "not yet" (a server that is restarting refuses
// connections); the last thing it saw or threw goes into the timeout message, so the operator reads why.
import { AbortedError, TaskermanError, TimeoutError } from '../../core/errors.js';

export interface PollOptions {
  /** What we wait for, for messages: "zookeeper on 127.0.0.1:2181 to serve". */
  what: string;
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** Pause between two probes (ms); default 500. */
  intervalMs?: number;
  signal: AbortSignal;
  /** Called with each observation that was not yet good enough (for logs). */
  onPending?: (seen: string) => void;
}

/**
 * Thrown by a probe to stop waiting at once with `error` (the save failed: waiting longer will not help).
 * Errors that are not retryable (a refused four-letter word, a missing binary) stop the wait too.
 */
export class StopPolling extends Error {
  constructor(readonly error: unknown) {
    super('stop polling');
  }
}

/** One probe's verdict: `done` with a value, or not yet with what it saw. */
export type Probe<T> = () => Promise<{ done: true; value: T } | { done: false; seen: string }>;

export const DEFAULT_POLL_INTERVAL_MS = 500;

/** Resolves with the probe's value once it is done; throws TimeoutError (with the last sight) or AbortedError. */
export async function pollUntil<T>(probe: Probe<T>, o: PollOptions): Promise<T> {
  const interval = o.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  const deadline = Date.now() + o.timeoutMs;
  let last = 'nothing yet';
  for (;;) {
    if (o.signal.aborted) throw new AbortedError(`stopped waiting for ${o.what} (last seen: ${last})`, { cause: o.signal.reason });
    try {
      const r = await probe();
      if (r.done) return r.value;
      last = r.seen;
    } catch (err) {
      if (err instanceof StopPolling) throw err.error;
      if (err instanceof TaskermanError && !err.retryable) throw err;
      if (o.signal.aborted) continue;
      last = err instanceof Error ? err.message : String(err);
    }
    o.onPending?.(last);
    const left = deadline - Date.now();
    if (left <= 0) throw new TimeoutError(`gave up waiting for ${o.what} after ${o.timeoutMs} ms (last seen: ${last})`);
    await pause(Math.min(interval, left), o.signal);
  }
}

/** Waits `ms`, or less when the signal aborts (the caller's loop then sees it). */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Holds a condition for a settle period: it must stay true for `settleMs` of consecutive probes, else the
 * clock starts again (a unit that flaps between active and activating is not stable). Same deadline rules.
 */
export async function pollStable(probe: () => Promise<{ ok: boolean; seen: string }>, settleMs: number, o: PollOptions): Promise<void> {
  let since: number | undefined;
  await pollUntil(
    async () => {
      const r = await probe();
      if (!r.ok) {
        since = undefined;
        return { done: false, seen: r.seen };
      }
      since ??= Date.now();
      const held = Date.now() - since;
      return held >= settleMs ? { done: true, value: undefined } : { done: false, seen: `${r.seen} (stable for ${held} of ${settleMs} ms)` };
    },
    o,
  );
}

/** Throws AbortedError when the signal has aborted: call it between two steps that change something. */
export function throwIfAborted(signal: AbortSignal, before: string): void {
  if (signal.aborted) throw new AbortedError(`stopped before ${before}`, { cause: signal.reason });
}
