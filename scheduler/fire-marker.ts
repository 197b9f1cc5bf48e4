// The fire markers: one persistent znode per (spec, fire time), created once (create-if-absent) BEFORE the
// task is put on the global queue, so a fire time is claimed by exactly one scheduler whatever the number of
// replicas, leaders and restarts (DESIGN.md invariant 4):
//
//   <root>/scheduler/fired/<spec>/<yyyymmddThhmmssZ>           the marker (JSON: claimed → sent)
//   <root>/scheduler/fired/<spec>/<yyyymmddThhmmssZ>/sending   ephemeral: a live scheduler is sending it
//
// The task id is derived from the same two things (`<spec>-<yyyymmddThhmmssZ>`), so even a task sent twice
// (a leader that lost its session between sending and recording it) is recorded once: the router creates
// the task record create-if-absent. A marker still `claimed` with no `sending` child was claimed by a
// scheduler that died (or gave up) before the task was out: the leader sends it again, same task id.
//
// The newest marker of a spec is its "last fired" time (catch-up after downtime); markers older than the
// retention are pruned, except that newest one of every loaded spec.
import {
  decodeSegment,
  encodeSegment,
  fromJsonBuffer,
  isNodeExists,
  isNoNode,
  joinPath,
  toJsonBuffer,
  CoordinatorError,
  type Coordinator,
} from '../core/coordination/coordinator.js';
import { SpecError } from '../core/errors.js';
import { isValidTaskId } from '../core/task/task.js';
import { validateZkRoot } from '../core/coordination/zk-paths.js';

/** Why a fire time was fired: on time, late (a handover or a slow loop), caught up after downtime, or sent again. */
export type FireReason = 'schedule' | 'late' | 'catchup' | 'resend';

export interface FireMarker {
  v: 1;
  spec: string;
  /** ISO 8601, UTC, whole seconds. */
  fireTime: string;
  taskId: string;
  /** The schedule that produced this fire time: catch-up after downtime only applies while it is unchanged. */
  schedule: string;
  timezone: string;
  reason: FireReason;
  state: 'claimed' | 'sent';
  claimedAt: string;
  claimedBy: string;
  /** Session that claimed it (hex). */
  session: string;
  sentAt?: string;
}

export interface MarkerState {
  marker: FireMarker;
  version: number;
  /** Session of the live scheduler sending it (owner of the `sending` node), if any. */
  sendingOwner: string | undefined;
}

export interface Claim {
  spec: string;
  fireTime: number;
  schedule: string;
  timezone: string;
  reason: FireReason;
  claimedBy: string;
  claimedAt: number;
}

const COMPACT_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const SENDING = 'sending';

/** 2026-11-20T03:00:00.000Z → 20261120T030000Z (fire times have a resolution of one second). */
export function compactFireTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

export function parseCompactFireTime(s: string): number | undefined {
  const m = COMPACT_RE.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const t = Date.UTC(y, mo - 1, d, h, mi, se);
  return compactFireTime(t) === s ? t : undefined;
}

/**
 * The task id of a fire: `<spec>-<yyyymmddThhmmssZ>`. Spec names are at most 100 characters of
 * [A-Za-z0-9._-] starting with a letter or digit, so this always is a valid task id (at most 117 characters).
 */
export function fireTaskId(spec: string, fireTime: number): string {
  const id = `${spec}-${compactFireTime(fireTime)}`;
  if (!isValidTaskId(id)) throw new SpecError([{ field: 'name', message: `"${spec}" cannot make a task id ("${id}")` }]);
  return id;
}

export class FireMarkers {
  /** <root>/scheduler/fired */
  readonly dir: string;

  constructor(
    private readonly coordinator: Coordinator,
    root = '/taskerman',
  ) {
    this.dir = joinPath(validateZkRoot(root), 'scheduler', 'fired');
  }

  specDir(spec: string): string {
    return joinPath(this.dir, encodeSegment(spec));
  }
  path(spec: string, fireTime: number): string {
    return joinPath(this.specDir(spec), compactFireTime(fireTime));
  }
  private sendingPath(spec: string, fireTime: number): string {
    return joinPath(this.path(spec, fireTime), SENDING);
  }

  async init(): Promise<void> {
    await this.coordinator.mkdirp(this.dir);
  }

  /**
   * Claims a fire time: creates its marker and our `sending` node in one transaction. 'exists' when some
   * scheduler (maybe this one) claimed it before: the caller must not send it.
   */
  async claim(c: Claim): Promise<'claimed' | 'exists'> {
    const marker: FireMarker = {
      v: 1,
      spec: c.spec,
      fireTime: new Date(Math.floor(c.fireTime / 1000) * 1000).toISOString(),
      taskId: fireTaskId(c.spec, c.fireTime),
      schedule: c.schedule,
      timezone: c.timezone,
      reason: c.reason,
      state: 'claimed',
      claimedAt: new Date(c.claimedAt).toISOString(),
      claimedBy: c.claimedBy,
      session: this.coordinator.sessionId,
    };
    const tx = () =>
      this.coordinator.transaction([
        { op: 'create', path: this.path(c.spec, c.fireTime), data: toJsonBuffer(marker), mode: 'persistent' },
        { op: 'create', path: this.sendingPath(c.spec, c.fireTime), data: Buffer.alloc(0), mode: 'ephemeral' },
      ]);
    try {
      await tx();
    } catch (err) {
      if (isNodeExists(err)) return 'exists';
      if (!isNoNode(err)) throw err;
      // The spec's first fire (or its folder was pruned): create the folder and try once more.
      await this.coordinator.mkdirp(this.specDir(c.spec));
      try {
        await tx();
      } catch (err2) {
        if (isNodeExists(err2)) return 'exists';
        throw err2;
      }
    }
    return 'claimed';
  }

  /** Takes over the sending of a claimed marker whose sender is gone. False when another live session has it. */
  async adopt(spec: string, fireTime: number): Promise<boolean> {
    try {
      await this.coordinator.create(this.sendingPath(spec, fireTime), Buffer.alloc(0), 'ephemeral');
      return true;
    } catch (err) {
      if (isNodeExists(err) || isNoNode(err)) return false;
      throw err;
    }
  }

  /** The task is on the queue: the marker says so and our `sending` node goes, in one transaction. */
  async markSent(spec: string, fireTime: number, sentAt: number): Promise<void> {
    const path = this.path(spec, fireTime);
    const d = await this.coordinator.get(path);
    if (!d) return;
    const marker: FireMarker = { ...fromJsonBuffer<FireMarker>(d.data), state: 'sent', sentAt: new Date(sentAt).toISOString() };
    try {
      await this.coordinator.transaction([
        { op: 'set', path, data: toJsonBuffer(marker), version: d.stat.version },
        { op: 'remove', path: this.sendingPath(spec, fireTime), version: -1 },
      ]);
    } catch (err) {
      // Our `sending` node went with a session we lost meanwhile: still record that the task is out.
      if (!isNoNode(err)) throw err;
      await this.coordinator.set(path, toJsonBuffer(marker), d.stat.version);
    }
  }

  /** Gives a claim up (the task could not be sent): the marker stays `claimed`, for the leader to send later. */
  async release(spec: string, fireTime: number): Promise<void> {
    try {
      await this.coordinator.remove(this.sendingPath(spec, fireTime));
    } catch (err) {
      if (!isNoNode(err)) throw err;
    }
  }

  async read(spec: string, fireTime: number): Promise<MarkerState | undefined> {
    const d = await this.coordinator.get(this.path(spec, fireTime));
    if (!d) return undefined;
    const marker = fromJsonBuffer<FireMarker>(d.data);
    const sending = marker.state === 'claimed' ? await this.coordinator.exists(this.sendingPath(spec, fireTime)) : undefined;
    return { marker, version: d.stat.version, sendingOwner: sending?.ephemeralOwner };
  }

  /** The fire times with a marker, oldest first. */
  async list(spec: string): Promise<number[]> {
    const kids = (await this.coordinator.children(this.specDir(spec))) ?? [];
    return kids
      .map(parseCompactFireTime)
      .filter((t): t is number => t !== undefined)
      .sort((a, b) => a - b);
  }

  /** The newest fire time with a marker: when the spec last fired. */
  async lastFired(spec: string): Promise<number | undefined> {
    return (await this.list(spec)).at(-1);
  }

  /** Spec names that have a marker folder. */
  async specs(): Promise<string[]> {
    return ((await this.coordinator.children(this.dir)) ?? []).map(decodeSegment).sort();
  }

  /**
   * Removes the markers of fire times before `cutoff`, except the newest marker of each spec in `keepNewest`
   * (the loaded specs: their last fire time is what catch-up starts from). With `maxPerSpec`, also the oldest
   * markers beyond that many per spec, but never one at or after `protectFrom` (a fire time that may still be
   * fired late). A spec folder left empty is removed when the spec is not loaded. Markers being sent are left
   * alone. Returns how many were removed.
   */
  async prune(cutoff: number, keepNewest: ReadonlySet<string>, cap: { maxPerSpec: number; protectFrom: number } = { maxPerSpec: Infinity, protectFrom: -Infinity }): Promise<number> {
    let removed = 0;
    for (const spec of await this.specs()) {
      const times = await this.list(spec);
      const keep = keepNewest.has(spec) ? times.at(-1) : undefined;
      const overCap = times.length - cap.maxPerSpec;
      for (const [i, t] of times.entries()) {
        const expired = t < cutoff || (i < overCap && t < cap.protectFrom);
        if (!expired || t === keep) continue;
        try {
          await this.coordinator.remove(this.path(spec, t));
          removed++;
        } catch (err) {
          // NOT_EMPTY: a scheduler is sending it right now; NO_NODE: someone else pruned it.
          if (!(err instanceof CoordinatorError && (err.code === 'NOT_EMPTY' || err.code === 'NO_NODE'))) throw err;
        }
      }
      if (!keepNewest.has(spec)) {
        try {
          await this.coordinator.remove(this.specDir(spec));
        } catch (err) {
          // NOT_EMPTY: recent markers remain (or it fires again); NO_NODE: already gone.
          if (!(err instanceof CoordinatorError && (err.code === 'NOT_EMPTY' || err.code === 'NO_NODE'))) throw err;
        }
      }
    }
    return removed;
  }
}
