// `zookeeper:restart`: restarts this node's member of a ZooKeeper ensemble, followers first and the leader
// last (one election per roll, not one per member), never taking a second voter down while one is missing.
//
//   defer       a member that is the leader waits, without a grant, while other nodes of the same task are not
//               done (their node records under <root>/tasks/<task_id>/nodes/)
//   pre_check   every voter serves, one leader, the leader counts every other voter synced, no sync pending
//               (`srvr` on each member, `mntr` on the leader); refuses otherwise, naming what it saw
//   execute     restarts the unit once per task (the invocation id is checkpointed; a retry that finds it
//               restarted does not restart it again)
//   post_check  the unit is active under a new invocation, the member serves again as leader or follower, and
//               the ensemble is whole again: one leader, every voter synced, nothing pending
import { z } from 'zod';
import { TaskermanError } from '../../core/errors.js';
import { TERMINAL_NODE_STATES, type NodeState } from '../../core/task/task.js';
import { defineAction } from '../action.js';
import { requireConfig } from '../kit/action-config.js';
import { pollUntil } from '../kit/poll.js';
import { restartUnitOnce, waitUnitRestarted } from '../kit/restart-once.js';
import { UNIT_NAME, type ServiceManager } from '../kit/service-manager.js';
import { ensembleHealth, parseZkAddress, showAddress, srvr, type ZkAddress } from './zk-admin.js';

export const ZOOKEEPER_RESTART = 'zookeeper:restart';

const address = z.string().refine((s) => {
  try {
    parseZkAddress(s);
    return true;
  } catch {
    return false;
  }
}, 'must be host:port, like 10.0.0.5:2181');

export const zookeeperRestartConfigSchema = z
  .strictObject({
    unit: z.string().regex(UNIT_NAME, 'must be a systemd unit name').default('zookeeper.service'),
    /** This member's client address (four-letter words go there). */
    member: address.default('127.0.0.1:2181'),
    /** The client address of every voting member of the ensemble, this one included (not observers). */
    ensemble: z.array(address).min(1, 'must list every voting member as host:port'),
    four_letter_timeout_seconds: z.number().min(0.5).max(60).default(5),
  })
  .refine((c) => c.ensemble.includes(c.member), { message: 'member must be one of the ensemble addresses', path: ['member'] });
export type ZookeeperRestartConfig = z.infer<typeof zookeeperRestartConfigSchema>;

export const zookeeperRestartArgs = z.strictObject({
  /** How long the member may take to serve again and the ensemble to be whole again (s). */
  rejoin_timeout_seconds: z.number().int().min(5).max(3600, 'must be at most 3600').default(300),
  /** The unit must stay active this long after the restart (s). */
  settle_seconds: z.number().int().min(0).max(600).default(5),
});
type Args = z.infer<typeof zookeeperRestartArgs>;

/** The node records of a task: which nodes are done. */
export type TaskNodes = (taskId: string) => Promise<Array<{ node: string; state: NodeState }>>;

export function createZookeeperRestartAction(config: ZookeeperRestartConfig | undefined, deps: { serviceManager: ServiceManager; taskNodes?: TaskNodes }) {
  const compiled = () => {
    const c = requireConfig(ZOOKEEPER_RESTART, config);
    return { c, me: parseZkAddress(c.member), voters: c.ensemble.map(parseZkAddress), wire: { timeoutMs: c.four_letter_timeout_seconds * 1000 } };
  };
  const pendingPeers = async (taskId: string, self: string): Promise<string[]> => {
    if (!deps.taskNodes) return [];
    return (await deps.taskNodes(taskId)).filter((n) => n.node !== self && !TERMINAL_NODE_STATES.includes(n.state)).map((n) => n.node);
  };
  const checkHealthy = async (voters: ZkAddress[], signal: AbortSignal, timeoutMs: number) => {
    const h = await ensembleHealth(voters, { signal, timeoutMs });
    return h;
  };

  return defineAction<Args>({
    name: ZOOKEEPER_RESTART,
    version: 1,
    description: 'Restarts this ZooKeeper member, followers first and the leader last, only while every voter is synced.',
    args: zookeeperRestartArgs,

    async defer(ctx) {
      const { me, wire } = compiled();
      const s = await srvr(me, { signal: ctx.signal, ...wire });
      if (s.mode !== 'leader') return undefined;
      const pending = await pendingPeers(ctx.taskId, ctx.node);
      return pending.length > 0 ? `this member is the leader and goes last; waiting for ${pending.join(', ')}` : undefined;
    },

    async preCheck(ctx) {
      const { me, voters, wire } = compiled();
      const h = await checkHealthy(voters, ctx.signal, wire.timeoutMs);
      ctx.logger.info({ modes: h.modes, leader: h.leader, synced_followers: h.syncedFollowers, pending_syncs: h.pendingSyncs }, 'ensemble before the restart');
      if (!h.ok) throw new TaskermanError('CHECK_FAILED', `the ensemble is not whole, not restarting ${showAddress(me)}: ${h.problems.join('; ')}`);
      if (h.leader === showAddress(me)) {
        const pending = await pendingPeers(ctx.taskId, ctx.node);
        // The leader moved here after the node was admitted: the ensemble is whole, so restarting it now is
        // safe and costs one more election than leader-last would; waiting here would hold the grant.
        if (pending.length > 0) ctx.logger.warn({ pending }, 'this member became the leader while other members of the task still wait; restarting it now (one extra election)');
      }
    },

    async execute(ctx) {
      const { c } = compiled();
      await restartUnitOnce(ctx, deps.serviceManager, c.unit);
    },

    async postCheck(ctx) {
      const { c, me, voters, wire } = compiled();
      const timeoutMs = ctx.args.rejoin_timeout_seconds * 1000;
      await waitUnitRestarted(ctx, deps.serviceManager, c.unit, { settleMs: ctx.args.settle_seconds * 1000, timeoutMs });
      const mode = await pollUntil(
        async () => {
          const s = await srvr(me, { signal: ctx.signal, ...wire });
          return s.serving && (s.mode === 'follower' || s.mode === 'leader') ? { done: true, value: s.mode } : { done: false, seen: s.serving ? `mode ${s.mode}` : 'not serving yet' };
        },
        { what: `${showAddress(me)} to serve again`, timeoutMs, intervalMs: 250, signal: ctx.signal },
      );
      ctx.logger.info({ mode }, 'member serves again');
      const h = await pollUntil(
        async () => {
          const r = await checkHealthy(voters, ctx.signal, wire.timeoutMs);
          return r.ok ? { done: true, value: r } : { done: false, seen: r.problems.join('; ') };
        },
        { what: 'the leader to see every voter synced', timeoutMs, intervalMs: 500, signal: ctx.signal },
      );
      ctx.logger.info({ modes: h.modes, leader: h.leader, synced_followers: h.syncedFollowers }, 'ensemble whole again');
    },
  });
}
