// The scheduler daemon: loads the task specs of a folder (a git checkout), validates all of them before it
// schedules any, and fires each on its cron `schedule` (node-cron, in the spec's `timezone`, default UTC).
// Any number of replicas may run: each keeps every spec loaded and ticking, only the elected leader fires.
//
// A schedule fires once per fire time (DESIGN.md invariant 4) whatever the number of replicas, leaders and
// restarts: a fire is claimed by creating its marker create-if-absent BEFORE the task is enqueued, and the
// task id is derived from the spec name and the fire time, so the router's own create-if-absent of the task
// record absorbs the one duplicate send that remains possible (a leader losing its session between sending
// and recording it). See `fire-marker.ts` and `leader.ts`.
//
// Fire times nobody fired:
// - while this replica was up with the spec loaded, and no older than `lateFireWindowMs` (a leader handover,
//   a ZooKeeper hiccup, a blocked event loop, a task that could not be sent): fired late by the leader, on
//   taking over and at every sweep;
// - otherwise (no scheduler was up, or too long ago): the spec's `catchup` — `none` (default) skips them,
//   `once` fires the latest one. "Last fired" is the spec's newest marker; a spec that never fired, or whose
//   schedule changed since, has nothing to catch up.
//
// Fire times come from node-cron: `context.date` is the scheduled slot (node-cron 4.6 passes the slot it
// planned, whole seconds, not the moment its timer ran; the unit tests pin this). The catch-up and
// late-fire checks need the fire times *before* a given instant, which node-cron does not offer (it only
// walks forward from the wall clock), so `CronSchedule.previous` walks back itself: the field lists come
// from node-cron's own parser and every candidate is confirmed with node-cron's own `match`, so both agree
// on what the expression means (L, W, #, names, DST).
import { EventEmitter } from 'node:events';
import { createTask, parse as parseCron, validateDetailed, type Logger as CronLogger, type ScheduledTask } from 'node-cron';
import { joinPath } from '../core/coordination/coordinator.js';
import { emitTask } from '../core/task/emit.js';
import { describeError, SpecError, type Issue } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TaskSpec } from '../core/task/task-spec.js';
import { FireMarkers, fireTaskId, type FireReason, type MarkerState } from './fire-marker.js';
import { LeaderElection } from './leader.js';
import {
  compileSchedulerOptions,
  type CompiledSchedulerOptions,
  type LoadedSpec,
  type SchedulerOptions,
  type SpecSource,
} from './scheduler-options.js';

export type { LoadedSpec, SpecLoad, SpecSource } from './scheduler-options.js';

// ---- cron time ---------------------------------------------------------------------------------------

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** How far back `previous` looks: 8 years. An expression that fires less often (Feb 29 on a Monday) counts as not having fired. */
const MAX_DAYS_BACK = 366 * 8;

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

function localParts(ms: number, timeZone: string): LocalParts {
  const p: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  return { year: p.year ?? 0, month: p.month ?? 0, day: p.day ?? 0, hour: p.hour ?? 0, minute: p.minute ?? 0, second: p.second ?? 0 };
}

function offsetMs(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
}

function readsBack(ms: number, p: LocalParts, timeZone: string): boolean {
  const q = localParts(ms, timeZone);
  return q.year === p.year && q.month === p.month && q.day === p.day && q.hour === p.hour && q.minute === p.minute && q.second === p.second;
}

/** A local wall-clock time to an instant, resolving DST folds and gaps the way node-cron does (so a fire time has one instant). */
function localToUtc(p: LocalParts, timeZone: string): number {
  const guess = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  const off1 = offsetMs(guess, timeZone);
  const c1 = guess - off1;
  const off2 = offsetMs(c1, timeZone);
  if (off1 === off2) return c1;
  const c2 = guess - off2;
  if (readsBack(c1, p, timeZone)) return c1;
  if (readsBack(c2, p, timeZone)) return c2;
  return Math.max(c1, c2);
}

function previousDay(year: number, month: number, day: number): { year: number; month: number; day: number } {
  const d = new Date(Date.UTC(year, month - 1, day - 1));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

const descending = (xs: readonly (number | string)[]): number[] => [...new Set(xs.map(Number))].sort((a, b) => b - a);

/**
 * One cron expression in one time zone: node-cron fires it (`start`), and `previous`/`between` list its fire
 * times before an instant. Fire times are epoch ms, whole seconds.
 */
export class CronSchedule {
  private readonly task: ScheduledTask;
  private readonly hours: number[];
  private readonly minutes: number[];
  private readonly seconds: number[];
  private onFire: ((fireTime: number) => void) | undefined;
  private onMissed: ((fireTime: number) => void) | undefined;

  /** Throws on an expression node-cron rejects (check with `scheduleIssue` first). */
  constructor(
    readonly expression: string,
    readonly timezone: string,
    opts: { name?: string; logger?: CronLogger } = {},
  ) {
    const fields = parseCron(expression);
    this.hours = descending(fields.hour);
    this.minutes = descending(fields.minute);
    this.seconds = descending(fields.second);
    // Created stopped: `match` is usable at once, the timers only run after `start`.
    this.task = createTask(expression, (ctx) => this.onFire?.(Math.floor(ctx.date.getTime() / 1000) * 1000), {
      timezone,
      name: opts.name,
      logger: opts.logger,
    });
    // A slot node-cron could not run on time (event loop blocked past its 1 s tolerance).
    this.task.on('execution:missed', (ctx) => this.onMissed?.(Math.floor(ctx.date.getTime() / 1000) * 1000));
  }

  /** Starts firing: `onFire` at every fire time, `onMissed` for fire times node-cron skipped because it ran late. */
  start(onFire: (fireTime: number) => void, onMissed: (fireTime: number) => void): void {
    this.onFire = onFire;
    this.onMissed = onMissed;
    void this.task.start();
  }

  /** Stops firing for good (idempotent). */
  destroy(): void {
    this.onFire = undefined;
    this.onMissed = undefined;
    void this.task.destroy();
  }

  matches(ms: number): boolean {
    return this.task.match(new Date(ms));
  }

  /** The latest fire time at or before `atOrBefore` and after `after` (exclusive), if any. */
  previous(atOrBefore: number, after = -Infinity): number | undefined {
    const t0 = Math.floor(atOrBefore / 1000) * 1000;
    if (t0 <= after) return undefined;
    const bound = localParts(t0, this.timezone);
    let { year, month, day } = bound;
    for (let i = 0; i < MAX_DAYS_BACK; i++) {
      const r = this.latestOnDay({ year, month, day }, i === 0 ? bound : undefined, t0, after);
      if (r === 'stop') return undefined;
      if (r !== 'next') return r;
      ({ year, month, day } = previousDay(year, month, day));
    }
    return undefined;
  }

  /** Fire times in (after, atOrBefore], latest first, at most `limit`. */
  between(after: number, atOrBefore: number, limit: number): number[] {
    const out: number[] = [];
    let cursor = atOrBefore;
    while (out.length < limit) {
      const t = this.previous(cursor, after);
      if (t === undefined) break;
      out.push(t);
      cursor = t - 1000;
    }
    return out;
  }

  /**
   * The latest fire time on one local day (no later than `bound`'s time of day on the first day). Candidates
   * come from the expression's own hour/minute/second lists, latest first; the first one that exists (DST
   * gaps) is checked with node-cron's `match`: since its time of day is in the lists, a mismatch can only be
   * the day (day of month, month, day of week, L/W/#), so the whole day is skipped.
   */
  private latestOnDay(d: { year: number; month: number; day: number }, bound: LocalParts | undefined, t0: number, after: number): number | 'next' | 'stop' {
    for (const hour of this.hours) {
      if (bound && hour > bound.hour) continue;
      const hb = bound && hour === bound.hour ? bound : undefined;
      for (const minute of this.minutes) {
        if (hb && minute > hb.minute) continue;
        const mb = hb && minute === hb.minute ? hb : undefined;
        for (const second of this.seconds) {
          if (mb && second > mb.second) continue;
          const p: LocalParts = { ...d, hour, minute, second };
          const ts = localToUtc(p, this.timezone);
          if (ts > t0 || !readsBack(ts, p, this.timezone)) continue;
          if (ts <= after) return 'stop';
          return this.matches(ts) ? ts : 'next';
        }
      }
    }
    return 'next';
  }
}

// ---- loading -------------------------------------------------------------------------------------------

/** The problem with a spec's `schedule`, if node-cron would refuse it. */
export function scheduleIssue(spec: TaskSpec, file: string): Issue | undefined {
  if (spec.schedule === undefined) return undefined;
  const r = validateDetailed(spec.schedule);
  if (r.valid) return undefined;
  return {
    file,
    field: 'schedule',
    message: `"${spec.schedule}" is not a cron expression: ${r.errors.map((e) => e.message).join('; ')} (5 fields "minute hour day-of-month month day-of-week", or 6 with seconds first)`,
  };
}

export interface Schedulable {
  /** Valid specs with a schedule. */
  scheduled: LoadedSpec[];
  /** Valid specs without a schedule (run on demand with `submit`): loaded, never fired. */
  unscheduled: LoadedSpec[];
  /** Every problem: the source's, duplicate names, bad cron expressions. */
  issues: Issue[];
}

/** Loads the specs and checks what only the scheduler cares about (unique names, cron expressions). */
export async function loadSchedulable(source: SpecSource): Promise<Schedulable> {
  const { specs, issues } = await source();
  const out: Schedulable = { scheduled: [], unscheduled: [], issues: [...issues] };
  const names = new Map<string, string>();
  for (const l of specs) {
    const prev = names.get(l.spec.name);
    if (prev !== undefined) {
      out.issues.push({ file: l.file, field: 'name', message: `"${l.spec.name}" is also the name of ${prev}; names must be unique` });
      continue;
    }
    names.set(l.spec.name, l.file);
    if (l.spec.schedule === undefined) {
      out.unscheduled.push(l);
      continue;
    }
    const bad = scheduleIssue(l.spec, l.file);
    if (bad) out.issues.push(bad);
    else out.scheduled.push(l);
  }
  return out;
}

// ---- the daemon ------------------------------------------------------------------------------------------

export interface FireEvent {
  spec: string;
  /** Epoch ms, whole seconds. */
  fireTime: number;
  taskId: string;
  reason: FireReason;
}

export interface ReloadResult {
  /** False when the reload was refused (invalid specs without `skipInvalid`, or the scheduler is not running): nothing changed. */
  applied: boolean;
  added: string[];
  removed: string[];
  changed: string[];
  issues: Issue[];
}

export interface SchedulerEvents {
  leadership: [boolean];
  /** A task is on the global queue. */
  fired: [FireEvent];
  /** The fire time was claimed already (by another replica, or by this one a moment ago). */
  duplicate: [FireEvent];
  /** A missed fire time that the spec's `catchup: none` skips. */
  skipped: [{ spec: string; fireTime: number; reason: string }];
  reloaded: [ReloadResult];
  /** A failure the daemon survived (logged too); not 'error', which would crash a process with no listener. */
  problem: [Error];
}

interface Entry {
  spec: TaskSpec;
  file: string;
  cron: CronSchedule;
  timezone: string;
  fingerprint: string;
  /** Since when this replica stands by for this schedule: fire times from then on are fired late rather than caught up. */
  loadedAt: number;
  /** Fire times at or before this are never caught up: the schedule was added or changed while running (-Infinity at start). */
  catchupFloor: number;
  /** Downtime catch-up is decided once per leadership (and per new schedule). */
  downtimeChecked: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();
/** Replicas compare fire times on their own clocks: a marker this close to the late-fire window is kept. */
const CLOCK_SKEW_MARGIN_MS = 3_600_000;

function cronLogger(log: Logger): CronLogger {
  const text = (m: string | Error): string => (typeof m === 'string' ? m : m.message);
  return {
    info: (m) => log.debug(m),
    warn: (m) => log.warn(m),
    error: (m, err) => log.error({ err: describeError(err ?? m) }, text(m)),
    debug: (m, err) => log.debug({ err: err && describeError(err) }, text(m)),
  };
}

export class Scheduler extends EventEmitter<SchedulerEvents> {
  private readonly o: CompiledSchedulerOptions;
  private readonly log: Logger;
  readonly markers: FireMarkers;
  private readonly election: LeaderElection;
  private readonly entries = new Map<string, Entry>();
  /** Fires being claimed or sent by this process, by `<spec>@<fire time>`. */
  private readonly inflight = new Map<string, Promise<void>>();
  private readonly ac = new AbortController();
  private phase: 'idle' | 'running' | 'stopped' = 'idle';
  private sweeper: Promise<void> | undefined;
  private checking: Promise<void> | undefined;
  private checkAgain = false;
  private reloading: Promise<unknown> = Promise.resolve();
  private lastPrune = -Infinity;

  constructor(opts: SchedulerOptions) {
    super();
    this.o = compileSchedulerOptions(opts);
    this.log = this.o.logger.child({ component: 'scheduler' });
    this.markers = new FireMarkers(this.o.coordinator, this.o.root);
    this.election = new LeaderElection({
      coordinator: this.o.coordinator,
      dir: joinPath(this.o.root, 'scheduler', 'leader'),
      logger: this.o.logger,
      id: `${this.o.host}:${process.pid}`,
    });
    this.election.on('change', (leader) => {
      this.emit('leadership', leader);
      if (!leader) return;
      for (const e of this.entries.values()) e.downtimeChecked = false;
      void this.sweep();
    });
  }

  isLeader(): boolean {
    return this.election.isLeader();
  }

  /** Names of the specs this replica has scheduled. */
  specNames(): string[] {
    return [...this.entries.keys()].sort();
  }

  /**
   * Loads and validates every spec, then schedules them and joins the leader election. Rejects with a
   * SpecError listing every problem (file, field, message) when a spec is invalid, unless `skipInvalid`:
   * nothing is scheduled then.
   */
  async start(): Promise<void> {
    if (this.phase !== 'idle') return;
    const load = await loadSchedulable(this.o.source);
    if (load.issues.length > 0 && !this.o.skipInvalid) {
      throw new SpecError(load.issues, { hint: 'fix these files, or start with --skip-invalid to run without them' });
    }
    this.logSkipped(load.issues);
    await this.markers.init();
    this.phase = 'running';
    const r = this.apply(load.scheduled, true);
    this.log.info(
      { root: this.o.root, scheduled: r.added, unscheduled: load.unscheduled.map((l) => l.spec.name), skipped: load.issues.length },
      'scheduler started',
    );
    this.sweeper = this.sweepLoop();
    try {
      await this.election.start();
    } catch (err) {
      // ZooKeeper went away while joining: leave no timer behind.
      await this.stop();
      throw err;
    }
  }

  /**
   * Loads the specs again (SIGHUP, --watch): new specs start ticking, removed ones stop, changed ones are
   * rescheduled. Invalid specs refuse the whole reload (the running set stays as it was) unless `skipInvalid`,
   * which drops them. Reloads run one at a time; fires in flight for removed or changed specs finish first.
   */
  reload(): Promise<ReloadResult> {
    const next = this.reloading.then(() => this.reloadOnce());
    this.reloading = next.catch(() => undefined);
    return next;
  }

  /** Stops firing, lets the fires in flight finish, then leaves the election (the next replica leads at once). */
  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    const wasRunning = this.phase === 'running';
    this.phase = 'stopped';
    this.ac.abort();
    for (const e of this.entries.values()) e.cron.destroy();
    await this.sweeper;
    await this.checking;
    await Promise.allSettled([...this.inflight.values()]);
    await this.election.stop();
    this.entries.clear();
    if (wasRunning) this.log.info('scheduler stopped');
  }

  /** What the leader does on taking over and every `sweepIntervalMs`: `check`, and `pruneMarkers` when due. Never throws. */
  async sweep(): Promise<void> {
    await this.check();
    const now = this.o.clock.now();
    if (this.isLeader() && this.phase === 'running' && now - this.lastPrune >= this.o.pruneIntervalMs) {
      this.lastPrune = now;
      try {
        await this.pruneMarkers();
      } catch (err) {
        this.log.warn({ err: describeError(err) }, 'cannot prune old fire markers');
        this.emit('problem', err as Error);
      }
    }
  }

  /**
   * As leader: fires the recent fire times nobody fired, sends again the claimed tasks nobody is sending, and
   * (once per leadership) decides the fire time missed while no scheduler was up. One check at a time.
   */
  check(): Promise<void> {
    if (this.checking) {
      this.checkAgain = true;
      return this.checking;
    }
    this.checking = (async () => {
      try {
        do {
          this.checkAgain = false;
          await this.checkOnce();
        } while (this.checkAgain && this.phase === 'running');
      } finally {
        this.checking = undefined;
      }
    })();
    return this.checking;
  }

  /**
   * Removes the markers older than the retention, and the oldest beyond markerMaxPerSpec per spec (keeping
   * the newest one of every loaded spec, and every marker a late fire could still look for).
   */
  async pruneMarkers(): Promise<number> {
    const now = this.o.clock.now();
    const cutoff = now - this.o.markerRetentionMs;
    const protectFrom = now - this.o.lateFireWindowMs - CLOCK_SKEW_MARGIN_MS;
    const removed = await this.markers.prune(cutoff, new Set(this.entries.keys()), { maxPerSpec: this.o.markerMaxPerSpec, protectFrom });
    if (removed > 0) this.log.info({ removed, before: iso(cutoff) }, 'pruned old fire markers');
    return removed;
  }

  // ---- loading ----

  private logSkipped(issues: Issue[]): void {
    for (const i of issues) this.log.error({ file: i.file, field: i.field }, `skipping an invalid spec: ${i.file ?? ''}: ${i.field}: ${i.message}`);
  }

  private async reloadOnce(): Promise<ReloadResult> {
    const refused = (issues: Issue[]): ReloadResult => ({ applied: false, added: [], removed: [], changed: [], issues });
    if (this.phase !== 'running') return refused([]);
    let load;
    try {
      load = await loadSchedulable(this.o.source);
    } catch (err) {
      this.log.error({ err: describeError(err) }, 'cannot load the specs: nothing reloaded');
      this.emit('problem', err as Error);
      return refused(err instanceof SpecError ? err.issues : []);
    }
    if (load.issues.length > 0 && !this.o.skipInvalid) {
      for (const i of load.issues) this.log.error({ file: i.file, field: i.field }, `invalid spec: ${i.file ?? ''}: ${i.field}: ${i.message}`);
      this.log.error({ problems: load.issues.length }, 'reload refused: the specs loaded before keep running');
      this.emit('problem', new SpecError(load.issues));
      const r = refused(load.issues);
      this.emit('reloaded', r);
      return r;
    }
    if (this.phase !== 'running') return refused([]);
    this.logSkipped(load.issues);
    const r = { ...this.apply(load.scheduled, false), issues: load.issues };
    // A fire that started before the reload finishes with the spec it started with.
    await Promise.allSettled([...this.inflight.values()]);
    this.log.info({ added: r.added, removed: r.removed, changed: r.changed, skipped: load.issues.length }, 'specs reloaded');
    this.emit('reloaded', r);
    return r;
  }

  private apply(loaded: LoadedSpec[], initial: boolean): Omit<ReloadResult, 'issues'> {
    const now = this.o.clock.now();
    const r: Omit<ReloadResult, 'issues'> = { applied: true, added: [], removed: [], changed: [] };
    const seen = new Set<string>();
    for (const { file, spec } of loaded) {
      seen.add(spec.name);
      const old = this.entries.get(spec.name);
      const fingerprint = JSON.stringify(spec);
      if (!old) {
        this.schedule(spec, file, now, initial ? -Infinity : now);
        r.added.push(spec.name);
        continue;
      }
      old.file = file;
      if (old.fingerprint === fingerprint) continue;
      r.changed.push(spec.name);
      if (old.cron.expression === spec.schedule && old.timezone === (spec.timezone ?? 'UTC')) {
        // Same fire times: the next fire sends the new spec.
        old.spec = spec;
        old.fingerprint = fingerprint;
        continue;
      }
      old.cron.destroy();
      this.schedule(spec, file, now, now);
    }
    for (const [name, e] of this.entries) {
      if (seen.has(name)) continue;
      e.cron.destroy();
      this.entries.delete(name);
      r.removed.push(name);
    }
    return r;
  }

  private schedule(spec: TaskSpec, file: string, now: number, catchupFloor: number): void {
    const timezone = spec.timezone ?? 'UTC';
    const cron = new CronSchedule(spec.schedule as string, timezone, { name: `taskerman:${spec.name}`, logger: cronLogger(this.log) });
    const entry: Entry = { spec, file, cron, timezone, fingerprint: JSON.stringify(spec), loadedAt: now, catchupFloor, downtimeChecked: false };
    this.entries.set(spec.name, entry);
    cron.start(
      (t) => void this.fire(entry, t, 'schedule'),
      (t) => {
        if (t >= this.windowStart(entry, this.o.clock.now())) void this.fire(entry, t, 'late');
      },
    );
  }

  // ---- firing ----

  private canFire(entry: Entry): boolean {
    return this.phase === 'running' && this.election.isLeader() && this.entries.get(entry.spec.name) === entry;
  }

  /** Fire times from here on were stood by for, recently enough to be fired late. */
  private windowStart(entry: Entry, now: number): number {
    return Math.max(entry.loadedAt, now - this.o.lateFireWindowMs);
  }

  private track(entry: Entry, t: number, run: () => Promise<void>): Promise<void> {
    const key = `${entry.spec.name}@${t}`;
    const running = this.inflight.get(key);
    if (running) return running;
    if (!this.canFire(entry)) return Promise.resolve();
    const p = run().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Claims the fire time (its marker, create-if-absent) and, if this call created it, sends the task. Never throws. */
  private fire(entry: Entry, t: number, reason: FireReason): Promise<void> {
    return this.track(entry, t, async () => {
      const { spec } = entry;
      const event: FireEvent = { spec: spec.name, fireTime: t, taskId: fireTaskId(spec.name, t), reason };
      let claimed: 'claimed' | 'exists';
      try {
        claimed = await this.markers.claim({
          spec: spec.name,
          fireTime: t,
          schedule: entry.cron.expression,
          timezone: entry.timezone,
          reason,
          claimedBy: this.o.host,
          claimedAt: this.o.clock.now(),
        });
      } catch (err) {
        this.log.warn({ spec: spec.name, fire_time: iso(t), err: describeError(err) }, 'cannot claim the fire time; the leader looks at it again at its next check');
        this.emit('problem', err as Error);
        return;
      }
      if (claimed === 'exists') {
        this.log.debug({ spec: spec.name, fire_time: iso(t) }, 'fire time already claimed');
        this.emit('duplicate', event);
        return;
      }
      await this.send(entry, t, reason);
    });
  }

  /** Sends a task claimed earlier that nobody is sending (its sender died, gave up, or lost leadership). */
  private resend(entry: Entry, t: number, st: MarkerState): Promise<void> {
    // A live session other than ours holds `sending`: it is on it.
    if (st.sendingOwner !== undefined && st.sendingOwner !== this.o.coordinator.sessionId) return Promise.resolve();
    return this.track(entry, t, async () => {
      if (st.sendingOwner === undefined && !(await this.markers.adopt(entry.spec.name, t))) return;
      this.log.info({ spec: entry.spec.name, fire_time: iso(t), claimed_by: st.marker.claimedBy }, 'sending a task that was claimed but never sent');
      await this.send(entry, t, 'resend');
    });
  }

  private async send(entry: Entry, t: number, reason: FireReason): Promise<void> {
    const { spec } = entry;
    const taskId = fireTaskId(spec.name, t);
    const log = this.log.child({ spec: spec.name, task_id: taskId, fire_time: iso(t) });
    for (let attempt = 1; ; attempt++) {
      if (!this.election.isLeader()) {
        // TN14: not sure we lead any more. The marker stays claimed; the leader sends it (same task id).
        log.warn('leadership lost before the task was sent; the leader sends it');
        await this.markers.release(spec.name, t).catch(() => undefined);
        return;
      }
      try {
        await emitTask(this.o.queue, this.o.names, spec, { kind: 'scheduler', user: this.o.host }, taskId);
        break;
      } catch (err) {
        if (attempt >= this.o.sendAttempts || this.ac.signal.aborted) {
          log.error({ err: describeError(err), attempts: attempt }, 'cannot put the task on the global queue; the leader sends it again at its next check');
          this.emit('problem', err as Error);
          await this.markers.release(spec.name, t).catch(() => undefined);
          return;
        }
        log.warn({ err: describeError(err), attempt }, 'sending the task failed; retrying');
        await this.o.clock.sleep(this.o.sendBackoffMs * 2 ** (attempt - 1), this.ac.signal).catch(() => undefined);
      }
    }
    try {
      await this.markers.markSent(spec.name, t, this.o.clock.now());
    } catch (err) {
      // The task is out. Should the marker stay `claimed`, a second send has the same task id: the router records it once.
      log.warn({ err: describeError(err) }, 'the task was sent but its marker could not be updated');
    }
    log.info({ reason, action: spec.action, cluster: spec.cluster }, 'fired');
    this.emit('fired', { spec: spec.name, fireTime: t, taskId, reason });
  }

  // ---- checks ----

  private async sweepLoop(): Promise<void> {
    while (!this.ac.signal.aborted) {
      try {
        await this.o.clock.sleep(this.o.sweepIntervalMs, this.ac.signal);
      } catch {
        return;
      }
      if (this.isLeader()) await this.sweep();
    }
  }

  private async checkOnce(): Promise<void> {
    if (this.phase !== 'running' || !this.isLeader()) return;
    const now = this.o.clock.now();
    for (const entry of [...this.entries.values()]) {
      if (!this.canFire(entry)) continue;
      try {
        await this.checkEntry(entry, now);
      } catch (err) {
        this.log.warn({ spec: entry.spec.name, err: describeError(err) }, 'checking recent fire times failed; retried at the next sweep');
        this.emit('problem', err as Error);
      }
    }
  }

  private async checkEntry(entry: Entry, now: number): Promise<void> {
    const name = entry.spec.name;
    const from = this.windowStart(entry, now);
    // Oldest first, so that tasks go out in fire-time order.
    const recent = entry.cron.between(from - 1, now, this.o.lateFireLimit).reverse();
    for (const t of recent) {
      if (!this.canFire(entry)) return;
      const st = await this.markers.read(name, t);
      if (!st) await this.fire(entry, t, 'late');
      else if (st.marker.state === 'claimed') await this.resend(entry, t, st);
    }
    if (!entry.downtimeChecked && this.canFire(entry)) {
      await this.checkDowntime(entry, from);
      entry.downtimeChecked = true;
    }
  }

  /** The fire times before `before` that nobody fired since the spec last fired: the spec's `catchup` decides. */
  private async checkDowntime(entry: Entry, before: number): Promise<void> {
    const name = entry.spec.name;
    const last = await this.markers.lastFired(name);
    if (last === undefined) return; // never fired here: nothing was missed
    const missed = entry.cron.previous(before - 1, Math.max(last, entry.catchupFloor));
    if (missed === undefined) return;
    const log = this.log.child({ spec: name, fire_time: iso(missed), last_fired: iso(last) });
    const lastMarker = (await this.markers.read(name, last))?.marker;
    if (lastMarker && (lastMarker.schedule !== entry.cron.expression || lastMarker.timezone !== entry.timezone)) {
      log.info({ was: `${lastMarker.schedule} (${lastMarker.timezone})` }, 'the schedule changed since the last fire: missed fire times are not caught up');
      return;
    }
    const catchup = entry.spec.catchup ?? 'none';
    if (catchup === 'once') {
      log.info('catching up the latest missed fire time (catchup: once)');
      await this.fire(entry, missed, 'catchup');
      return;
    }
    log.info('missed fire time skipped (catchup: none)');
    this.emit('skipped', { spec: name, fireTime: missed, reason: 'missed while no scheduler was up (catchup: none)' });
  }
}
