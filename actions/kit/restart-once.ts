// Restarting a unit exactly once per node and task, across retried and resumed attempts: the unit's
// invocation id is recorded in the action's checkpoint before the restart, so a later attempt that finds the
// unit active under another invocation knows the restart happened and does not restart it again. And the
// matching wait: the unit active under a new invocation, stable for a settle period with no automatic
// restart by systemd (a crash loop), within a deadline.
import type { ActionCheckpoint } from '../action.js';
import type { Logger } from 'pino';
import { pollStable, throwIfAborted } from './poll.js';
import { describeUnit, type ServiceManager, type UnitStatus } from './service-manager.js';

const key = (unit: string) => `invocation_before:${unit}`;

export interface RestartOnceContext {
  signal: AbortSignal;
  logger: Logger;
  checkpoint: ActionCheckpoint;
}

/** Restarts `unit` unless an earlier attempt of this task already did. Returns whether it restarted it now. */
export async function restartUnitOnce(ctx: RestartOnceContext, sm: ServiceManager, unit: string): Promise<boolean> {
  const s = await sm.status(unit, ctx.signal);
  const before = ctx.checkpoint.get<string>(key(unit));
  if (before !== undefined && s.activeState === 'active' && s.invocationId !== before) {
    ctx.logger.info({ unit: describeUnit(s), invocation_before: before }, 'already restarted by an earlier attempt: not restarting again');
    return false;
  }
  // Recorded before the restart: if the runner dies right after, the next attempt sees the new invocation.
  await ctx.checkpoint.set(key(unit), s.invocationId);
  throwIfAborted(ctx.signal, `restarting ${unit}`);
  ctx.logger.info({ unit: describeUnit(s) }, 'restarting');
  await sm.restart(unit, ctx.signal);
  return true;
}

/**
 * Waits until `unit` is active under another invocation than the one recorded by `restartUnitOnce` and stays so,
 * with no automatic restart, for `settleMs`. Throws TimeoutError (with the unit's last state) past `timeoutMs`.
 */
export async function waitUnitRestarted(ctx: RestartOnceContext, sm: ServiceManager, unit: string, o: { settleMs: number; timeoutMs: number; intervalMs?: number }): Promise<UnitStatus> {
  const before = ctx.checkpoint.get<string>(key(unit));
  let restartsAtStart: number | undefined;
  let last: UnitStatus | undefined;
  await pollStable(
    async () => {
      const s = (last = await sm.status(unit, ctx.signal));
      const fresh = before === undefined || s.invocationId !== before;
      if (s.activeState !== 'active' || !fresh) {
        restartsAtStart = undefined;
        return { ok: false, seen: `${describeUnit(s)}${fresh ? '' : ' (still the invocation from before the restart)'}` };
      }
      if (restartsAtStart === undefined) restartsAtStart = s.nRestarts;
      else if (s.nRestarts !== undefined && s.nRestarts > restartsAtStart) {
        restartsAtStart = s.nRestarts;
        return { ok: false, seen: `${describeUnit(s)} (systemd restarted it by itself: crash loop?)` };
      }
      return { ok: true, seen: describeUnit(s) };
    },
    o.settleMs,
    { what: `${unit} to be active under a new invocation, stable for ${Math.round(o.settleMs / 1000)}s`, timeoutMs: o.timeoutMs + o.settleMs, intervalMs: o.intervalMs ?? 500, signal: ctx.signal },
  );
  ctx.logger.info({ unit: last ? describeUnit(last) : unit }, 'unit active and stable after the restart');
  return last!;
}
