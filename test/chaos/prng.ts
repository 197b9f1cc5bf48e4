// The chaos run's view of the tests' seeded PRNG (test/support/prng.ts), so that a chaos run is described by
// its seed: the same seed picks the same faults, moments and failing nodes (the interleavings of real
// processes still differ run to run).
import { prng } from '../support/prng.js';

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [min, max], both included. */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  /** `n` distinct items, in random order. */
  sample<T>(items: readonly T[], n: number): T[];
}

export function seededRng(seed: number): Rng {
  const next = prng(seed);
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[int(0, items.length - 1)] as T;
    },
    sample: <T>(items: readonly T[], n: number): T[] => {
      const pool = [...items];
      for (let i = pool.length - 1; i > 0; i--) {
        const j = int(0, i);
        [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
      }
      return pool.slice(0, Math.min(n, pool.length));
    },
  };
}
