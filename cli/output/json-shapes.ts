// The pieces every --json output is built from, so that a time, a duration, an actor or `paused` has one
// shape everywhere: snake_case keys, ISO-8601 times in UTC with milliseconds, durations in ms. The values
// themselves are formed by json-time.ts (toIso, msBetween), which builds no schema.
import { z } from 'zod';
import { NODE_STATES, TASK_STATES } from '../../core/task/task.js';

export const ISO_MS_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** An ISO-8601 time in UTC with milliseconds, e.g. "2026-11-30T21:52:53.123Z". */
export const isoTime = z.string().regex(ISO_MS_RE).describe('ISO-8601 time in UTC with milliseconds');
export const isoTimeOrNull = isoTime.nullable();
/** A duration in milliseconds. */
export const durationMs = z.number().int().min(0).describe('duration in milliseconds');

/** Who did something and when: `paused`, `cancelled`, `resuming` have this one shape in every output. */
export const actorAt = z.strictObject({ by: z.string(), at: isoTime });
export const actorAtOrNull = actorAt.nullable();

export const taskState = z.enum(TASK_STATES);
export const nodeState = z.enum(NODE_STATES);
export const nodeCounts = z.strictObject(Object.fromEntries(NODE_STATES.map((s) => [s, z.number().int().min(0)])) as Record<(typeof NODE_STATES)[number], z.ZodNumber>);
