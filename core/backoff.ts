// Exponential backoff with "full jitter" around the midpoint: attempt k waits base·2^(k-1)·[0.5, 1.5),
// capped. Jitter keeps a fleet of nodes that failed together from retrying in lockstep.

export interface BackoffOptions {
  baseMs: number;
  maxMs?: number;
  /** 0..1 → [0.5, 1.5) multiplier; injected in tests. */
  random?: () => number;
}

export function backoffDelay(failedAttempts: number, opts: BackoffOptions): number {
  const max = opts.maxMs ?? 15 * 60_000;
  const exp = opts.baseMs * 2 ** Math.max(0, failedAttempts - 1);
  const jitter = 0.5 + (opts.random ?? Math.random)();
  return Math.min(max, Math.round(exp * jitter));
}
