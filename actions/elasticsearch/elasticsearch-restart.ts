// `elasticsearch:restart`: restart this node's unit without losing shards or leaving settings behind.
//
//   pre_check   cluster not red (nor yellow with require_green); no initializing or relocating shards, no
//               in-flight fetch; every primary on this node has a STARTED replica elsewhere; if this node is
//               master-eligible, every other voting master is present (one master at a time); the elected
//               master goes last (it defers while other nodes of its task have not started)
//   execute     allocation to primaries (or a restart record with the node shutdown API), flush, restart the
//               unit, wait until the node rejoined; then, in a finally, even after a failed restart: the
//               allocation setting back to its previous value (or the shutdown record deleted)
//   post_check  the node is in the cluster; the cluster back to the health it had (green, or yellow if it
//               was yellow) with no shard initializing, within recover_timeout: a cluster that stays yellow
//               fails the attempt with what it saw rather than holding the grant forever; the allocation
//               setting is what it was
//
// Idempotent: the health and the allocation setting from before are kept in the checkpoint the first time,
// so a retried or resumed attempt restores the operator's value, never the "primaries" an interrupted
// attempt left; setting a value twice, flushing twice and restarting twice are harmless.
import { z } from 'zod';
import { TaskermanError } from '../../core/errors.js';
import { defineAction, type ActionContext } from '../action.js';
import { readSecretFile, requireConfig } from '../kit/action-config.js';
import { pollUntil, throwIfAborted } from '../kit/poll.js';
import { withRestore } from '../kit/restore.js';
import type { ServiceManager } from '../kit/service-manager.js';
import { deferReason, goLast, type TaskPeers } from '../task-peers.js';
import type { ElasticsearchRestartConfig } from './elasticsearch-config.js';
import { ALLOCATION_ENABLE, EsClient, versionAtLeast, type ClusterHealth } from './es-client.js';

export const ELASTICSEARCH_RESTART = 'elasticsearch:restart';
const BEFORE = 'elasticsearch_before';

interface Before {
  health: 'green' | 'yellow';
  /** The allocation setting in the scope we change, as it was (null: not set). */
  allocation: string | null;
}

const args = z.strictObject({
  /** Flush before the restart, for a faster recovery. Default true. */
  flush: z.boolean().default(true),
});
type Args = z.infer<typeof args>;

export interface ElasticsearchRestartDeps {
  config: ElasticsearchRestartConfig | undefined;
  services: ServiceManager;
  peers: TaskPeers;
}

function refuse(message: string, hint?: string): TaskermanError {
  return new TaskermanError('CHECK_FAILED', message, hint ? { hint } : {});
}

export function createElasticsearchRestartAction(deps: ElasticsearchRestartDeps) {
  const setup = async (ctx: ActionContext<Args>) => {
    const cfg = requireConfig(ELASTICSEARCH_RESTART, deps.config);
    const password = cfg.password_file ? await readSecretFile(cfg.password_file) : undefined;
    return { cfg, es: new EsClient(cfg, ctx.signal, password) };
  };
  const before = (ctx: ActionContext<Args>) => ctx.checkpoint.get<Before | null>(BEFORE) ?? undefined;

  return defineAction<Args>({
    name: ELASTICSEARCH_RESTART,
    version: 1,
    description: 'Restarts this Elasticsearch node with replica allocation held (restored in a finally) and waits for the cluster to be back to its health.',
    args,

    async defer(ctx) {
      // The task's node records first (one ZooKeeper read); the cluster only when others are pending.
      if ((await deps.peers.pending(ctx.taskId, ctx.node)).length === 0) return undefined;
      const cfg = requireConfig(ELASTICSEARCH_RESTART, deps.config);
      const password = cfg.password_file ? await readSecretFile(cfg.password_file) : undefined;
      const es = new EsClient(cfg, ctx.signal, password);
      const me = await es.local();
      const elected = (await es.nodes()).find((n) => n.master === '*');
      return elected?.id === me.id ? deferReason(deps.peers, ctx.taskId, ctx.node, `${me.name} is the elected master`) : undefined;
    },

    async preCheck(ctx) {
      const { cfg, es } = await setup(ctx);
      const resumed = before(ctx);
      const health = await es.health();
      if (health.status === 'red') throw refuse('cluster is red: some primary shard is unassigned', 'fix the red indices first (GET _cluster/allocation/explain)');
      if (health.status === 'yellow' && cfg.require_green && !resumed) throw refuse('cluster is yellow and require_green is set');
      if (health.initializing_shards > 0 || health.relocating_shards > 0 || health.number_of_in_flight_fetch > 0) {
        throw refuse(`shards are moving: ${health.initializing_shards} initializing, ${health.relocating_shards} relocating, ${health.number_of_in_flight_fetch} in-flight fetches`, 'wait for the cluster to settle');
      }
      const me = await es.local();
      const nodes = await es.nodes();
      const shards = await es.shards();
      const alone = shards.filter((s) => s.node === me.name && s.prirep === 'p' && s.state === 'STARTED' && !shards.some((r) => r.index === s.index && r.shard === s.shard && r.prirep === 'r' && r.state === 'STARTED' && r.node !== me.name));
      if (alone.length) {
        const names = alone.slice(0, 5).map((s) => `${s.index}[${s.shard}]`).join(', ');
        throw refuse(`${alone.length} primary shard(s) on this node have no started replica elsewhere: ${names}${alone.length > 5 ? ', ...' : ''}`, 'restarting would make them unavailable (red); wait for the replicas, or add replicas to those indices');
      }
      if (me.masterEligible) {
        const present = new Set(nodes.map((n) => n.id));
        const missing = (await es.votingConfig()).filter((id) => id !== me.id && !present.has(id));
        if (missing.length) throw refuse(`another master-eligible node is not in the cluster (${missing.join(', ')}): one master at a time`, 'wait until every master-eligible node is back');
      }
      const elected = nodes.find((n) => n.master === '*');
      if (elected?.id === me.id) {
        await goLast(ctx, deps.peers, { why: `${me.name} is the elected master`, pollMs: cfg.poll_interval, maxWaitMs: cfg.master_last_wait, retryAfterMs: Math.max(cfg.poll_interval, 1000) });
      }
      if (!resumed) {
        const current = await es.setting(ALLOCATION_ENABLE);
        await ctx.checkpoint.set(BEFORE, { health: health.status, allocation: current[cfg.allocation_scope] ?? null } satisfies Before);
      }
      ctx.logger.info({ health: health.status, node: me.name, master_eligible: me.masterEligible }, 'safe to restart this node');
    },

    async execute(ctx) {
      const { cfg, es } = await setup(ctx);
      const b = before(ctx);
      if (!b) throw new TaskermanError('ACTION_FAILED', 'no record of the cluster before the restart (pre_check did not run)', { retryable: false });
      const me = await es.local();
      const shutdownApi = cfg.method === 'shutdown_api' || (cfg.method === 'auto' && versionAtLeast(me.version, [7, 15]));
      await withRestore(ctx.logger, async (r) => {
        if (shutdownApi) {
          await es.any('PUT', `/_nodes/${encodeURIComponent(me.id)}/shutdown`, { type: 'restart', reason: `taskerman ${ctx.taskId}`, allocation_delay: `${Math.round(cfg.allocation_delay / 1000)}s` });
          r.add(`the node shutdown record of ${me.name} (DELETE _nodes/${me.id}/shutdown)`, async (signal) => {
            const undo = new EsClient(cfg, signal, await passwordOf(cfg));
            await undo.any('DELETE', `/_nodes/${encodeURIComponent(me.id)}/shutdown`, undefined, [404]);
          });
        } else {
          await es.putSetting(cfg.allocation_scope, ALLOCATION_ENABLE, 'primaries');
          r.add(`${cfg.allocation_scope} ${ALLOCATION_ENABLE} back to ${b.allocation ?? 'its default (unset)'}`, async (signal) => {
            await new EsClient(cfg, signal, await passwordOf(cfg)).putSetting(cfg.allocation_scope, ALLOCATION_ENABLE, b.allocation);
          });
        }
        if (ctx.args.flush) {
          const f = await es.any<{ _shards?: { failed?: number } }>('POST', '/_flush', undefined, [409]);
          if (f.body._shards?.failed) ctx.logger.warn({ failed: f.body._shards.failed }, 'flush failed on some shards; recovery may be slower');
        }
        throwIfAborted(ctx.signal, `restarting ${cfg.unit}`);
        ctx.logger.info({ unit: cfg.unit, shutdown_api: shutdownApi }, 'restarting the unit');
        await deps.services.restart(cfg.unit, ctx.signal);
        await waitJoined(es, me.name, cfg, ctx.signal);
      });
    },

    async postCheck(ctx) {
      const { cfg, es } = await setup(ctx);
      const b = before(ctx);
      const me = await es.local();
      await waitJoined(es, me.name, cfg, ctx.signal);
      const want = b?.health ?? 'green';
      let last: ClusterHealth | undefined;
      await pollUntil(
        async () => {
          const waitMs = Math.max(1000, Math.min(cfg.request_timeout - 1000, cfg.poll_interval * 2));
          last = await es.health({ wait_for_status: want, wait_for_no_initializing_shards: 'true', wait_for_no_relocating_shards: 'true', timeout: `${waitMs}ms` });
          return !last.timed_out ? { done: true, value: undefined } : { done: false, seen: `${last.status}, ${last.unassigned_shards} unassigned, ${last.initializing_shards} initializing` };
        },
        { what: `the cluster to be ${want} again (it was ${want} before the restart)`, timeoutMs: cfg.recover_timeout, intervalMs: cfg.poll_interval, signal: ctx.signal },
      ).catch((err: unknown) => {
        if (ctx.signal.aborted) throw err;
        throw new TaskermanError('CHECK_FAILED', `cluster did not get back to ${want} within ${cfg.recover_timeout} ms after the restart: ${last ? `${last.status}, ${last.unassigned_shards} unassigned shards` : (err as Error).message}`, {
          cause: err,
          hint: 'look at GET _cluster/allocation/explain; the node keeps its grant until this passes',
        });
      });
      if (b && cfg.method !== 'shutdown_api') {
        const now = (await es.setting(ALLOCATION_ENABLE))[cfg.allocation_scope] ?? null;
        if (now !== b.allocation) throw new TaskermanError('CHECK_FAILED', `${ALLOCATION_ENABLE} is ${now ?? 'unset'}, it was ${b.allocation ?? 'unset'} before the restart`, { hint: 'put it back by hand: PUT _cluster/settings' });
      }
      await ctx.checkpoint.set(BEFORE, null);
      ctx.logger.info({ health: want }, 'cluster back to its health');
    },
  });
}

async function passwordOf(cfg: ElasticsearchRestartConfig): Promise<string | undefined> {
  return cfg.password_file ? readSecretFile(cfg.password_file) : undefined;
}

async function waitJoined(es: EsClient, name: string, cfg: ElasticsearchRestartConfig, signal: AbortSignal): Promise<void> {
  await pollUntil(
    async () => {
      const nodes = await es.nodes();
      return nodes.some((n) => n.name === name) ? { done: true, value: undefined } : { done: false, seen: `${nodes.length} nodes, ${name} not among them` };
    },
    { what: `${name} to rejoin the cluster`, timeoutMs: cfg.rejoin_timeout, intervalMs: cfg.poll_interval, signal },
  );
}
