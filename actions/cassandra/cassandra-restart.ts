// `cassandra:restart`: drain this node, restart its unit, wait until it is back in the ring.
//
//   pre_check   every node UN as seen from this node and from one peer; one schema version; no repair or
//               streaming on this node (a restart would abort them)
//   execute     nodetool drain (bounded by drain_timeout; a hung drain stops the action, or is reported and
//               the restart goes on when restart_after_hung_drain is set), restart the unit, wait until
//               gossip and native transport run again
//   post_check  this node UN as seen from a peer, held for `settle`, then the grant is released
//
// Idempotent: the attempt writes a checkpoint before it drains (when, this node's host id, a peer). A retried
// or resumed attempt that finds it knows this node may be drained or down because of its own earlier attempt:
// the pre_check then tolerates this node (and only it) not being UN — asking the noted peer when this node's
// JMX does not answer at all —, a node already DRAINED is not drained again, and restarting twice is
// harmless. The checkpoint is cleared once the node is back.
import { z } from 'zod';
import { TaskermanError, TimeoutError } from '../../core/errors.js';
import { defineAction, type ActionContext } from '../action.js';
import { requireConfig } from '../kit/action-config.js';
import { pollStable, pollUntil, throwIfAborted } from '../kit/poll.js';
import type { ServiceManager } from '../kit/service-manager.js';
import type { CassandraRestartConfig } from './cassandra-config.js';
import { Nodetool } from './nodetool.js';
import { parseDescribeCluster, parseNetstats, parseRunning, parseStatus } from './nodetool-output.js';
import { checkQuiet, checkRing, findSelf } from './ring-checks.js';

export const CASSANDRA_RESTART = 'cassandra:restart';
/** Checkpoint key: this task's attempt on this node started to take it down. */
const BEGUN = 'cassandra_restart_begun';

interface Begun {
  at: string;
  hostId: string;
  /** A peer to ask while this node does not answer. */
  peer: string | undefined;
}

const args = z.strictObject({
  /** Drain before the restart (flushes memtables, stops taking writes cleanly). Default true. */
  drain: z.boolean().default(true),
});
type Args = z.infer<typeof args>;

export interface CassandraRestartDeps {
  config: CassandraRestartConfig | undefined;
  services: ServiceManager;
}

export function createCassandraRestartAction(deps: CassandraRestartDeps) {
  const setup = (ctx: ActionContext<Args>) => {
    const cfg = requireConfig(CASSANDRA_RESTART, deps.config);
    return { cfg, nt: new Nodetool(cfg, ctx.signal, ctx.logger) };
  };
  const begun = (ctx: ActionContext<Args>) => ctx.checkpoint.get<Begun | null>(BEGUN) ?? undefined;

  return defineAction<Args>({
    name: CASSANDRA_RESTART,
    version: 1,
    description: 'Drains this Cassandra node, restarts its unit and waits until it is UN again as seen from a peer.',
    args,
    async preCheck(ctx) {
      const { cfg, nt } = setup(ctx);
      const b = begun(ctx);
      if (b) {
        ctx.logger.warn({ since: b.at }, 'an earlier attempt already began taking this node down: checking the rest of the ring only');
        const answers = await nt.run(['info']).then(
          () => true,
          () => false,
        );
        if (answers || !b.peer) await checkRing(nt, { peerCheck: cfg.peer_check, selfMayBeDown: true });
        else await checkRingFromPeer(nt, { ...b, peer: b.peer });
        return;
      }
      const view = await checkRing(nt, { peerCheck: cfg.peer_check });
      await checkQuiet(nt);
      ctx.logger.info({ members: view.members.length, peer: view.peer?.address }, 'ring healthy: every node UN, one schema version, this node quiet');
    },

    async execute(ctx) {
      const { cfg, nt } = setup(ctx);
      const resumed = begun(ctx) !== undefined;
      if (!resumed) {
        const { self, members } = await findSelf(nt);
        const peer = members.find((m) => m.hostId !== self.hostId && m.status === 'UN' && m.dc === self.dc) ?? members.find((m) => m.hostId !== self.hostId && m.status === 'UN');
        await ctx.checkpoint.set(BEGUN, { at: new Date().toISOString(), hostId: self.hostId, peer: peer?.address } satisfies Begun);
      }
      if (ctx.args.drain) await drain(ctx, nt, cfg, resumed);
      throwIfAborted(ctx.signal, `restarting ${cfg.unit}`);
      ctx.logger.info({ unit: cfg.unit }, 'restarting the unit');
      await deps.services.restart(cfg.unit, ctx.signal);
      await pollUntil(
        async () => {
          const gossip = parseRunning('statusgossip', await nt.run(['statusgossip']));
          const binary = parseRunning('statusbinary', await nt.run(['statusbinary']));
          return gossip && binary ? { done: true, value: undefined } : { done: false, seen: `gossip ${gossip ? 'running' : 'not running'}, native transport ${binary ? 'running' : 'not running'}` };
        },
        { what: 'gossip and native transport to run again', timeoutMs: cfg.up_timeout, intervalMs: cfg.poll_interval, signal: ctx.signal },
      );
    },

    async postCheck(ctx) {
      const { cfg, nt } = setup(ctx);
      // A 9042 connect or "running" succeeds before gossip settles: what counts is how the others see us.
      await pollStable(
        async () => {
          const { self, members } = await findSelf(nt);
          const peer = cfg.peer_check ? members.find((m) => m.hostId !== self.hostId && m.status === 'UN') : undefined;
          const theirs = peer ? parseStatus(await nt.run(['status'], { host: peer.address })) : members;
          const me = theirs.find((m) => m.hostId === self.hostId);
          const binary = parseRunning('statusbinary', await nt.run(['statusbinary']));
          const ok = me?.status === 'UN' && binary;
          return { ok, seen: `${self.address} is ${me?.status ?? 'missing'} as seen from ${peer?.address ?? 'itself'}, native transport ${binary ? 'running' : 'not running'}` };
        },
        cfg.settle,
        { what: 'this node to be UN as seen from a peer', timeoutMs: cfg.up_timeout + cfg.settle, intervalMs: cfg.poll_interval, signal: ctx.signal },
      );
      await ctx.checkpoint.set(BEGUN, null);
      ctx.logger.info('node back in the ring');
    },
  });
}

/** The ring as the noted peer sees it, for a resumed attempt whose node does not answer: all UN but this node. */
async function checkRingFromPeer(nt: Nodetool, b: Begun & { peer: string }): Promise<void> {
  const theirs = parseStatus(await nt.run(['status'], { host: b.peer }));
  const bad = theirs.filter((m) => m.status !== 'UN' && m.hostId !== b.hostId);
  if (bad.length) throw new TaskermanError('CHECK_FAILED', `not every other node is UN as seen from ${b.peer}: ${bad.map((m) => `${m.address} ${m.status}`).join(', ')}`);
  const dc = parseDescribeCluster(await nt.run(['describecluster'], { host: b.peer }));
  const self = theirs.find((m) => m.hostId === b.hostId)?.address;
  if (dc.schemaVersions.size > 1) throw new TaskermanError('CHECK_FAILED', `schema disagreement as seen from ${b.peer}`);
  const others = dc.unreachable.filter((ip) => ip !== self);
  if (others.length) throw new TaskermanError('CHECK_FAILED', `unreachable nodes as seen from ${b.peer}: ${others.join(', ')}`);
}

async function drain(ctx: ActionContext<Args>, nt: Nodetool, cfg: CassandraRestartConfig, resumed: boolean): Promise<void> {
  let mode: string | undefined;
  try {
    mode = parseNetstats(await nt.run(['netstats'])).mode;
  } catch (err) {
    // Not answering: after an interrupted attempt the node may already be stopped; there is nothing to drain.
    if (!resumed) throw err;
    ctx.logger.warn({ err: (err as Error).message }, 'node not answering after an earlier attempt: restarting it without a drain');
    return;
  }
  if (mode === 'DRAINED') {
    ctx.logger.info('already drained');
    return;
  }
  ctx.logger.info({ timeout_ms: cfg.drain_timeout }, 'draining');
  try {
    await nt.run(['drain'], { timeoutMs: cfg.drain_timeout, code: 'ACTION_FAILED' });
  } catch (err) {
    if (!(err instanceof TimeoutError)) throw err;
    if (!cfg.restart_after_hung_drain) {
      throw new TaskermanError('ACTION_FAILED', `nodetool drain hung: not finished after ${cfg.drain_timeout} ms; the node was left as it is (not restarted)`, {
        cause: err,
        retryable: false,
        hint: 'look at the node (nodetool netstats shows the mode), or set restart_after_hung_drain: true for cassandra:restart in the runner config to restart after a hung drain',
      });
    }
    ctx.logger.error({ timeout_ms: cfg.drain_timeout }, 'nodetool drain hung; restarting anyway (restart_after_hung_drain)');
  }
}
