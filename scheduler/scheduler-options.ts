// Scheduler options: every default documented here, applied once, validated, compiled into a required shape.
import { hostname } from 'node:os';
import type { Coordinator } from '../core/coordination/coordinator.js';
import { systemClock, type Clock } from '../core/clock.js';
import { OptionError, type Issue } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { QueueNames } from '../core/queue/queue-names.js';
import type { TaskSpec } from '../core/task/task-spec.js';
import type { WorkQueue } from '../core/queue/work-queue.js';
import { validateZkRoot } from '../core/coordination/zk-paths.js';

/** One spec and the file it came from. */
export interface LoadedSpec {
  file: string;
  spec: TaskSpec;
}

/** What a spec source found: the valid specs, and a problem (file, field, message) for every invalid one. */
export interface SpecLoad {
  specs: LoadedSpec[];
  issues: Issue[];
}

/** Where the specs come from; called at start and on every reload (the CLI reads its `--specs` folder). */
export type SpecSource = () => Promise<SpecLoad>;

export interface SchedulerOptions {
  /** Where fired tasks go: the global queue of `names`. */
  queue: WorkQueue;
  names: QueueNames;
  /** Leader election and fire markers. */
  coordinator: Coordinator;
  source: SpecSource;
  logger: Logger;
  /** ZooKeeper root of this Taskerman. Default "/taskerman". */
  root?: string;
  /**
   * Time for catch-up, late fires and marker retention. Default: the system clock. node-cron itself fires on
   * the system clock; its fire times are the cron's own (not the clock's).
   */
  clock?: Clock;
  /** Recorded as who emitted every task (`scheduler:<host>`) and who claimed every marker. Default: os.hostname(). */
  host?: string;
  /** Log and skip invalid spec files instead of refusing to start (or to reload). Default false. */
  skipInvalid?: boolean;
  /** Fire markers are kept this many days; the newest one of every loaded spec is always kept. Default 7. */
  markerRetentionDays?: number;
  /**
   * At most this many markers are kept per spec (the newest), however young: a spec firing every second
   * would keep 600,000 over 7 days, and listing one folder that big exceeds ZooKeeper's 1 MB reply limit
   * (jute.maxbuffer). Markers inside the late-fire window (plus an hour of clock skew) are never pruned,
   * whatever this says: a fire time that can still be fired late must keep its marker. Default 10,000.
   */
  markerMaxPerSpec?: number;
  /** How often the leader prunes old markers, ms. Default 1 hour. */
  pruneIntervalMs?: number;
  /** How often the leader re-checks the recent fire times (a fire lost in a hiccup, a task not sent), ms. Default 60 s. */
  sweepIntervalMs?: number;
  /**
   * A fire time that this replica was up for (spec loaded) but that no leader fired — a leader handover, a
   * ZooKeeper hiccup, a blocked event loop, a task that could not be sent — is fired late, up to this long
   * after it. Older ones are "missed" and follow the spec's `catchup` (none: skipped; once: the latest is
   * fired). Default 15 minutes.
   */
  lateFireWindowMs?: number;
  /** At most this many late fire times per spec per check (the latest ones). Default 60. */
  lateFireLimit?: number;
  /** Attempts to put one task on the global queue before leaving it to the next check. Default 5. */
  sendAttempts?: number;
  /** Base of the exponential backoff between those attempts, ms. Default 500. */
  sendBackoffMs?: number;
}

export interface CompiledSchedulerOptions extends Required<Omit<SchedulerOptions, 'markerRetentionDays'>> {
  markerRetentionMs: number;
}

const DAY_MS = 86_400_000;

function positive(field: string, v: number, integer = false): number {
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new OptionError(field, `must be a positive ${integer ? 'whole ' : ''}number, got ${String(v)}`);
  }
  return v;
}

export function compileSchedulerOptions(o: SchedulerOptions): CompiledSchedulerOptions {
  const c: CompiledSchedulerOptions = {
    queue: o.queue,
    names: o.names,
    coordinator: o.coordinator,
    source: o.source,
    logger: o.logger,
    root: validateZkRoot(o.root ?? '/taskerman'),
    clock: o.clock ?? systemClock,
    host: o.host ?? hostname(),
    skipInvalid: o.skipInvalid ?? false,
    markerRetentionMs: positive('markerRetentionDays', o.markerRetentionDays ?? 7) * DAY_MS,
    markerMaxPerSpec: positive('markerMaxPerSpec', o.markerMaxPerSpec ?? 10_000, true),
    pruneIntervalMs: positive('pruneIntervalMs', o.pruneIntervalMs ?? 3_600_000),
    sweepIntervalMs: positive('sweepIntervalMs', o.sweepIntervalMs ?? 60_000),
    lateFireWindowMs: o.lateFireWindowMs ?? 15 * 60_000,
    lateFireLimit: o.lateFireLimit ?? 60,
    sendAttempts: positive('sendAttempts', o.sendAttempts ?? 5, true),
    sendBackoffMs: o.sendBackoffMs ?? 500,
  };
  if (!Number.isFinite(c.lateFireWindowMs) || c.lateFireWindowMs < 0) throw new OptionError('lateFireWindowMs', 'must be 0 or more');
  if (!Number.isInteger(c.lateFireLimit) || c.lateFireLimit < 0) throw new OptionError('lateFireLimit', 'must be a whole number, 0 or more');
  if (!Number.isFinite(c.sendBackoffMs) || c.sendBackoffMs < 0) throw new OptionError('sendBackoffMs', 'must be 0 or more');
  if (!c.host) throw new OptionError('host', 'must not be empty');
  return c;
}
