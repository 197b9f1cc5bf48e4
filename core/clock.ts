// Time comes in through a Clock so that backoff, grant and schedule logic can be tested without sleeping.

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * The system clock, read from the monotonic timer: wall time at process start plus the time elapsed since, so
 * it never steps back or forward when NTP (or a VM's host) sets the wall clock. For deadlines kept in memory
 * (visibility timeouts, delays), which must agree with the timers that wait for them.
 */
export const monotonicClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  sleep: systemClock.sleep,
};

export const isoNow = (clock: Clock = systemClock): string => new Date(clock.now()).toISOString();
