// Maintenance windows: `window: { days: [tue, wed], start: "02:00", end: "05:00", timezone: UTC }`.
// Outside its window a task starts no new node; nodes in flight finish. A window whose end is before its
// start runs past midnight (22:00-04:00), and `days` names the day it opens.
import { z } from 'zod';

export const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Day = (typeof DAYS)[number];

const HHMM = /^([01]\d|2[0-3]):([0-5]\d)$/;

export const windowSchema = z.strictObject({
  days: z.array(z.enum(DAYS, { error: `must be days like ${DAYS.join(', ')}` })).min(1, 'must name at least one day').default([...DAYS]),
  start: z.string().regex(HHMM, 'must be a time like "02:00" (24h)'),
  end: z.string().regex(HHMM, 'must be a time like "05:00" (24h)'),
  timezone: z.string().default('UTC'),
});
export type MaintenanceWindow = z.infer<typeof windowSchema>;

const minutesOf = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

const formatters = new Map<string, Intl.DateTimeFormat>();
function localParts(at: number, timeZone: string): { day: Day; minutes: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
  return { day: String(parts.weekday).toLowerCase().slice(0, 3) as Day, minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

export function isInWindow(w: MaintenanceWindow, at: number): boolean {
  const { day, minutes } = localParts(at, w.timezone);
  const start = minutesOf(w.start);
  const end = minutesOf(w.end);
  if (start === end) return w.days.includes(day);
  if (start < end) return w.days.includes(day) && minutes >= start && minutes < end;
  // Past midnight: open from `start` on a listed day, or before `end` on the day after a listed one.
  const yesterday = DAYS[(DAYS.indexOf(day) + 6) % 7] as Day;
  return (w.days.includes(day) && minutes >= start) || (w.days.includes(yesterday) && minutes < end);
}

export function describeWindow(w: MaintenanceWindow): string {
  return `${w.days.join(',')} ${w.start}-${w.end} ${w.timezone}`;
}
