// `systemd:restart`: restarts one unit that the runner's config allows, by the name the config gives it. The
// task only picks the name; the unit, its health command and its settle period come from the node.
//
//   pre_check   the unit is loaded and active (restarting a stopped unit would start it: not ours to do)
//   execute     records the unit's invocation id in the checkpoint, then `systemctl restart`. Idempotent: an
//               attempt that finds the unit active under another invocation than the recorded one knows the
//               restart already happened (a retried or resumed attempt) and does not restart it again
//   post_check  the unit is active under a new invocation, stays active with no automatic restart for the
//               settle period, and the optional health command passes
import { z } from 'zod';
import { TaskermanError } from '../../core/errors.js';
import { defineAction, type ActionContext } from '../action.js';
import { requireConfig } from '../kit/action-config.js';
import { healthCommandSchema, waitHealthy } from '../kit/health-command.js';
import { restartUnitOnce, waitUnitRestarted } from '../kit/restart-once.js';
import { describeUnit, UNIT_NAME, type ServiceManager } from '../kit/service-manager.js';

export const SYSTEMD_RESTART = 'systemd:restart';

export const systemdUnitConfigSchema = z.strictObject({
  /** The systemd unit, e.g. cassandra.service. */
  unit: z.string().regex(UNIT_NAME, 'must be a systemd unit name like cassandra.service'),
  /** Run after the unit is stable; must exit 0 within its timeout. */
  health: healthCommandSchema.optional(),
});

export const systemdRestartConfigSchema = z.strictObject({
  /** The units a task may restart, by the name it uses: { cassandra: { unit: cassandra.service } }. */
  units: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, 'names are letters, digits, ".", "_" or "-"'), systemdUnitConfigSchema),
});
export type SystemdRestartConfig = z.infer<typeof systemdRestartConfigSchema>;

export const systemdRestartArgs = z.strictObject({
  unit: z.string({ error: 'must name a unit from the runner config (actions."systemd:restart".units)' }).min(1),
  /** The unit must stay active, with no automatic restart, this long after the restart. */
  settle_seconds: z.number().int().min(0, 'must be 0 or more').max(3600, 'must be at most 3600').default(10),
  /** How long the unit may take to be active again. */
  start_timeout_seconds: z.number().int().min(1).max(3600, 'must be at most 3600').default(300),
});
type Args = z.infer<typeof systemdRestartArgs>;

export function createSystemdRestartAction(config: SystemdRestartConfig | undefined, serviceManager: ServiceManager) {
  const unitOf = (ctx: ActionContext<Args>) => {
    const c = requireConfig(SYSTEMD_RESTART, config);
    const u = c.units[ctx.args.unit];
    if (!u) {
      throw new TaskermanError('NOT_ALLOWED', `unit "${ctx.args.unit}" is not in this runner's systemd:restart config`, {
        retryable: false,
        hint: `allowed here: ${Object.keys(c.units).join(', ') || '(none)'}`,
      });
    }
    return u;
  };

  return defineAction<Args>({
    name: SYSTEMD_RESTART,
    version: 1,
    description: 'Restarts a systemd unit named in the runner config; waits until it is active under a new invocation, stable, and healthy.',
    args: systemdRestartArgs,

    async preCheck(ctx) {
      const u = unitOf(ctx);
      const s = await serviceManager.status(u.unit, ctx.signal);
      ctx.logger.info({ unit: describeUnit(s) }, 'unit before the restart');
      if (s.loadState !== 'loaded') throw new TaskermanError('CHECK_FAILED', `${u.unit} is ${s.loadState} on this node`, { retryable: false, hint: 'check the unit name in the runner config' });
      // A retried attempt finds the unit restarted by an earlier one (new invocation): that is fine too.
      if (s.activeState !== 'active') throw new TaskermanError('CHECK_FAILED', `${describeUnit(s)}: it is not active, so restarting it is not safe to assume; start it by hand or investigate`);
    },

    async execute(ctx) {
      await restartUnitOnce(ctx, serviceManager, unitOf(ctx).unit);
    },

    async postCheck(ctx) {
      const u = unitOf(ctx);
      await waitUnitRestarted(ctx, serviceManager, u.unit, { settleMs: ctx.args.settle_seconds * 1000, timeoutMs: ctx.args.start_timeout_seconds * 1000 });
      if (u.health) await waitHealthy(u.health, { signal: ctx.signal, logger: ctx.logger, what: `the health command of ${u.unit}` });
    },
  });
}
