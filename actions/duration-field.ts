// A duration field of an action's local config ("300s", "10m", "1h30m", or a number of seconds), compiled to
// milliseconds when the config is parsed, with bounds, so actions only ever see numbers.
import { z } from 'zod';
import { formatDuration, parseDuration } from '../core/duration.js';

export function durationMs(def: string, bounds: { min?: string; max?: string } = {}) {
  const min = parseDuration(bounds.min ?? '0s') ?? 0;
  const max = bounds.max === undefined ? Number.MAX_SAFE_INTEGER : (parseDuration(bounds.max) ?? Number.MAX_SAFE_INTEGER);
  return z
    .union([z.string(), z.number()])
    .default(def)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined) {
        ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration: write it like 30s, 10m or 1h30m` });
        return z.NEVER;
      }
      if (ms < min || ms > max) {
        ctx.addIssue({ code: 'custom', message: `must be between ${formatDuration(min)} and ${bounds.max ?? 'unbounded'}` });
        return z.NEVER;
      }
      return ms;
    });
}
