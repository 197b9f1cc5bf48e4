// `host:reboot`: reboots the node when it needs it (the OS left /var/run/reboot-required, as unattended
// upgrades do after a kernel update) or when the task says `force`, once, across the runner's own death.
//
//   pre_check   no other task is in flight on this node, and the configured blocker commands pass
//   execute     after the runner is back (the checkpoint holds the boot id from before): nothing to do.
//               Otherwise: no sentinel and no force → nothing to do (recorded). Else records the boot id
//               in the checkpoint, runs the reboot command, and waits for the shutdown that ends the runner
//   post_check  when a reboot was asked for: the boot id changed (it did reboot), and then, in every case,
//               the configured units are active and the health command passes
//
// Idempotent through the checkpoint: a reboot is asked for only while the boot id is still the one recorded
// before asking (a resumed attempt that sees another boot id knows it rebooted), never twice. The node's
// grant outlives the runner (the cluster budget keeps it across the reboot), so no other node of the
// cluster goes down meanwhile.
import { access } from 'node:fs/promises';
import { z } from 'zod';
import { TaskermanError } from '../../core/errors.js';
import { defineAction } from '../action.js';
import { requireConfig } from '../kit/action-config.js';
import { readBootId, BOOT_ID_FILE } from '../kit/boot-id.js';
import { lastLines, describeExit, runChecked, runCommand } from '../kit/command.js';
import { argvSchema, healthCommandSchema, waitHealthy } from '../kit/health-command.js';
import { pollUntil, throwIfAborted } from '../kit/poll.js';
import { describeUnit, UNIT_NAME, type ServiceManager } from '../kit/service-manager.js';

export const HOST_REBOOT = 'host:reboot';

export const hostRebootConfigSchema = z.strictObject({
  /** What reboots this node. */
  reboot_command: argvSchema.default(['systemctl', 'reboot']),
  /** Present when the OS wants a reboot (Debian/Ubuntu unattended-upgrades). */
  sentinel_file: z.string().min(1).default('/var/run/reboot-required'),
  boot_id_file: z.string().min(1).default(BOOT_ID_FILE),
  /** How long the node may take to go down after the reboot command returned (s). */
  shutdown_wait_seconds: z.number().int().min(1).max(3600).default(300),
  /** Units that must be active again after the reboot. */
  units: z.array(z.string().regex(UNIT_NAME, 'must be systemd unit names like cassandra.service')).default([]),
  /** The node's health command, polled after the reboot. */
  health: healthCommandSchema.optional(),
  /** Commands that must exit 0 before rebooting (a local backup not running, ...); each an argv. */
  blockers: z.array(argvSchema).default([]),
});
export type HostRebootConfig = z.infer<typeof hostRebootConfigSchema>;

export const hostRebootArgs = z.strictObject({
  /** Reboot even without the sentinel file. */
  force: z.boolean().default(false),
  /** How long the units may take to be active again after the node is back (s). */
  up_timeout_seconds: z.number().int().min(1).max(3600, 'must be at most 3600').default(600),
});
type Args = z.infer<typeof hostRebootArgs>;

/** What the runner knows of other work on this node: the ids of other tasks in flight on it. */
export type NodeActivity = (o: { cluster: string; node: string; exceptTaskId: string; signal: AbortSignal }) => Promise<string[]>;

const CP_BOOT_ID = 'boot_id_before';
const CP_REQUESTED = 'reboot_requested_at';
const CP_NOT_NEEDED = 'reboot_not_needed';

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

export function createHostRebootAction(config: HostRebootConfig | undefined, deps: { serviceManager: ServiceManager; nodeActivity?: NodeActivity }) {
  return defineAction<Args>({
    name: HOST_REBOOT,
    version: 1,
    description: 'Reboots the node if /var/run/reboot-required exists (or force), once across the runner restart; checks the boot id changed and the units are back.',
    args: hostRebootArgs,

    async preCheck(ctx) {
      const c = requireConfig(HOST_REBOOT, config);
      const before = ctx.checkpoint.get<string>(CP_BOOT_ID);
      if (before !== undefined && (await readBootId(c.boot_id_file)) !== before) {
        ctx.logger.info('back from the reboot this task asked for: nothing to check before');
        return;
      }
      const others = (await deps.nodeActivity?.({ cluster: ctx.cluster, node: ctx.node, exceptTaskId: ctx.taskId, signal: ctx.signal })) ?? [];
      if (others.length > 0) throw new TaskermanError('CHECK_FAILED', `other work is in flight on ${ctx.node}: ${others.join(', ')}; not rebooting under it`);
      for (const argv of c.blockers) {
        const r = await runCommand(argv, { signal: ctx.signal, timeoutMs: 60_000, maxOutputBytes: 64 * 1024 });
        if (r.code !== 0) throw new TaskermanError('CHECK_FAILED', `blocker ${argv.join(' ')}: ${describeExit(r)}${r.stderr || r.stdout ? `: ${lastLines(r.stderr || r.stdout, 1)}` : ''}; not rebooting`);
      }
      ctx.logger.info({ blockers: c.blockers.length }, 'nothing else in flight on this node');
    },

    async execute(ctx) {
      const c = requireConfig(HOST_REBOOT, config);
      const now = await readBootId(c.boot_id_file);
      const before = ctx.checkpoint.get<string>(CP_BOOT_ID);
      if (before !== undefined) {
        if (now !== before) {
          ctx.logger.info({ boot_id_before: before, boot_id: now, requested_at: ctx.checkpoint.get(CP_REQUESTED), interrupted_attempts: ctx.history.filter((h) => h.interrupted).length }, 'the node rebooted (boot id changed): not rebooting again');
          return;
        }
        // Asked before, but this boot is the same one: the reboot never happened (the command failed, or the
        // runner was restarted alone). Asking again is not a second reboot.
        ctx.logger.warn({ boot_id: now, requested_at: ctx.checkpoint.get(CP_REQUESTED) }, 'a reboot was asked for earlier but the boot id is unchanged: asking again');
      } else if (!ctx.args.force && !(await exists(c.sentinel_file))) {
        ctx.logger.info({ sentinel_file: c.sentinel_file }, 'no reboot required and force is off: not rebooting');
        await ctx.checkpoint.set(CP_NOT_NEEDED, true);
        return;
      }
      await ctx.checkpoint.set(CP_BOOT_ID, now);
      await ctx.checkpoint.set(CP_REQUESTED, new Date().toISOString());
      throwIfAborted(ctx.signal, 'rebooting');
      ctx.logger.warn({ boot_id: now, argv: c.reboot_command, force: ctx.args.force }, 'rebooting the node');
      await runChecked(c.reboot_command, { signal: ctx.signal, timeoutMs: 60_000 });
      // The shutdown stops the runner (this wait ends with the signal); a node still up after the bound did not
      // reboot, and the attempt fails so that a retry asks again (the boot id is still the recorded one).
      await pollUntil(async () => ({ done: false, seen: `still up with boot id ${now}` }), {
        what: 'the node to go down for the reboot',
        timeoutMs: c.shutdown_wait_seconds * 1000,
        intervalMs: 1000,
        signal: ctx.signal,
      });
    },

    async postCheck(ctx) {
      const c = requireConfig(HOST_REBOOT, config);
      const before = ctx.checkpoint.get<string>(CP_BOOT_ID);
      if (before !== undefined) {
        const now = await readBootId(c.boot_id_file);
        if (now === before) throw new TaskermanError('CHECK_FAILED', `the boot id is still ${now}: the node did not reboot`);
        if (await exists(c.sentinel_file)) ctx.logger.warn({ sentinel_file: c.sentinel_file }, 'rebooted, but the OS still asks for a reboot');
        ctx.logger.info({ boot_id_before: before, boot_id: now }, 'the node rebooted');
      }
      const timeoutMs = ctx.args.up_timeout_seconds * 1000;
      for (const unit of c.units) {
        const s = await pollUntil(
          async () => {
            const st = await deps.serviceManager.status(unit, ctx.signal);
            return st.activeState === 'active' ? { done: true, value: st } : { done: false, seen: describeUnit(st) };
          },
          { what: `${unit} to be active after the reboot`, timeoutMs, intervalMs: 1000, signal: ctx.signal },
        );
        ctx.logger.info({ unit: describeUnit(s) }, 'unit active');
      }
      if (c.health) await waitHealthy(c.health, { signal: ctx.signal, logger: ctx.logger, what: "the node's health command" });
    },
  });
}
