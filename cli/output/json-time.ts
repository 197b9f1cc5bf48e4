// The time and duration forms of every --json output, as plain functions: ISO-8601 in UTC with milliseconds,
// durations in ms. Kept apart from the zod shapes (json-shapes.ts), so a command that prints JSON builds no
// schema: only `taskerman schema --output` and the tests need those.

/** Normalises a time we recorded to the output form (records keep ISO strings; older ones may lack ms). */
export function toIso(t: string | number | Date | undefined | null): string | null {
  if (t === undefined || t === null || t === '') return null;
  const d = t instanceof Date ? t : new Date(t);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** Milliseconds between two recorded times, or null when one is missing. */
export function msBetween(from: string | undefined, to: string | undefined): number | null {
  if (!from || !to) return null;
  const ms = Date.parse(to) - Date.parse(from);
  return Number.isFinite(ms) ? Math.max(0, ms) : null;
}
