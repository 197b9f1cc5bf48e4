// `cassandra:repair`: anti-entropy repair of this node's primary ranges (`nodetool repair -pr`), one node at
// a time through the rollout, so that every range is repaired once per pass without spiking latency: a
// pause after each node (Reaper's intensity) and refusals while the cluster is busy.
//
//   pre_check   as cassandra:restart (every node UN from here and from a peer, one schema version, this node
//               quiet), plus: no node over max_pending_compactions, no repair running anywhere in the cluster
//   execute     nodetool repair -pr [-full] [keyspace [tables]], bounded by repair_timeout: a hung repair is
//               cancelled (nodetool stop -- VALIDATION) and the attempt fails; then the intensity pause
//               (duration / intensity - duration, at most max_pause)
//   post_check  no repair left running on this node; the ring still all UN
//
// Idempotent: repairing a range twice is harmless (only slower). A checkpoint marks a repair started; a
// retried or resumed attempt that finds its own repair still running on this node (the runner died during
// it) cancels it first rather than refusing forever or running two at once.
import { z } from 'zod';
import { TaskermanError, TimeoutError } from '../../core/errors.js';
import { delay } from '../../core/delay.js';
import { defineAction, type ActionContext } from '../action.js';
import { requireConfig } from '../kit/action-config.js';
import { pollUntil, throwIfAborted } from '../kit/poll.js';
import type { CassandraRepairConfig } from './cassandra-config.js';
import { Nodetool } from './nodetool.js';
import { activity, checkQuiet, checkRing } from './ring-checks.js';

export const CASSANDRA_REPAIR = 'cassandra:repair';
const STARTED = 'cassandra_repair_started';
const NAME = /^[A-Za-z0-9_]{1,48}$/;

const args = z
  .strictObject({
    /** One keyspace; default every keyspace that nodetool repairs (all non-local ones). */
    keyspace: z.string().regex(NAME, 'must be a keyspace name (letters, digits, _)').optional(),
    /** Tables of that keyspace; default all. */
    tables: z.array(z.string().regex(NAME, 'must be a table name (letters, digits, _)')).max(64).default([]),
    /** Full repair (-full); false runs an incremental one (advised only from Cassandra 4.0). Default true. */
    full: z.boolean().default(true),
    /** Share of the time spent repairing (Reaper's intensity): 0.5 pauses as long as the repair took. Default 0.9. */
    intensity: z.number().gt(0, 'must be above 0 (0 would pause forever)').max(1).default(0.9),
  })
  .refine((a) => a.tables.length === 0 || a.keyspace !== undefined, { message: 'tables need a keyspace', path: ['tables'] });
type Args = z.infer<typeof args>;

export function createCassandraRepairAction(deps: { config: CassandraRepairConfig | undefined }) {
  const setup = (ctx: ActionContext<Args>) => {
    const cfg = requireConfig(CASSANDRA_REPAIR, deps.config);
    return { cfg, nt: new Nodetool(cfg, ctx.signal, ctx.logger) };
  };
  const cancel = async (ctx: ActionContext<Args>, cfg: CassandraRepairConfig, why: string) => {
    // Its own bound and not the action's signal, which may be what aborted: a repair must not be left running.
    const nt = new Nodetool(cfg, AbortSignal.timeout(cfg.command_timeout), ctx.logger);
    ctx.logger.warn({ cancel: cfg.cancel, why }, 'cancelling the repair sessions of this node');
    await nt.run(cfg.cancel, { code: 'ACTION_FAILED' });
  };

  return defineAction<Args>({
    name: CASSANDRA_REPAIR,
    version: 1,
    description: "Repairs this Cassandra node's primary ranges (nodetool repair -pr) when the cluster is calm, with an intensity pause after.",
    args,
    async preCheck(ctx) {
      const { cfg, nt } = setup(ctx);
      const view = await checkRing(nt, { peerCheck: cfg.peer_check });
      if (typeof ctx.checkpoint.get(STARTED) === 'string') {
        const mine = await activity(nt);
        if (mine.repairs.length) {
          await cancel(ctx, cfg, `left running by an earlier attempt of this task (started ${String(ctx.checkpoint.get(STARTED))})`);
          await pollUntil(async () => ((await activity(nt)).repairs.length === 0 ? { done: true, value: undefined } : { done: false, seen: 'repair still running' }), {
            what: 'the cancelled repair to stop',
            timeoutMs: cfg.command_timeout,
            intervalMs: cfg.poll_interval,
            signal: ctx.signal,
          });
        }
        await ctx.checkpoint.set(STARTED, null);
      }
      await checkQuiet(nt);
      const busy: string[] = [];
      for (const m of view.members) {
        throwIfAborted(ctx.signal, 'checking the other nodes');
        const a = await activity(nt, m.hostId === view.self.hostId ? undefined : m.address);
        if (a.repairs.length) busy.push(`a repair is already running on ${m.address}: ${a.repairs.join(', ')}`);
        if (a.pending > cfg.max_pending_compactions) busy.push(`${m.address} has ${a.pending} pending compactions (at most ${cfg.max_pending_compactions})`);
      }
      if (busy.length) throw new TaskermanError('CHECK_FAILED', `not repairing now: ${busy.join('; ')}`, { hint: 'the node is retried after its backoff; raise max_pending_compactions in the runner config only if the cluster keeps up' });
      ctx.logger.info({ members: view.members.length }, 'cluster calm: repairing');
    },

    async execute(ctx) {
      const { cfg, nt } = setup(ctx);
      const repairArgs = ['repair', '-pr', ...(ctx.args.full ? ['-full'] : []), ...(ctx.args.keyspace ? ['--', ctx.args.keyspace, ...ctx.args.tables] : [])];
      await ctx.checkpoint.set(STARTED, new Date().toISOString());
      const t0 = Date.now();
      let out: string;
      try {
        out = await nt.run(repairArgs, { timeoutMs: cfg.repair_timeout, code: 'ACTION_FAILED' });
      } catch (err) {
        if (err instanceof TimeoutError || ctx.signal.aborted) {
          await cancel(ctx, cfg, err instanceof TimeoutError ? 'hung' : 'the attempt was stopped');
          await ctx.checkpoint.set(STARTED, null).catch(() => undefined);
          if (err instanceof TimeoutError) throw new TaskermanError('ACTION_FAILED', `repair hung: not finished after ${cfg.repair_timeout} ms; cancelled (nodetool ${cfg.cancel.join(' ')})`, { cause: err });
        }
        throw err;
      }
      await ctx.checkpoint.set(STARTED, null);
      const failed = out.split('\n').find((l) => /failed with error/i.test(l));
      if (failed) throw new TaskermanError('ACTION_FAILED', `repair reported a failure: ${failed.trim()}`);
      const took = Date.now() - t0;
      const pause = Math.min(cfg.max_pause, Math.round(took / ctx.args.intensity - took));
      ctx.logger.info({ took_ms: took, pause_ms: pause, intensity: ctx.args.intensity }, 'repair completed; pausing before the next node');
      await delay(pause, ctx.signal);
      throwIfAborted(ctx.signal, 'the end of the intensity pause');
    },

    async postCheck(ctx) {
      const { cfg, nt } = setup(ctx);
      const a = await activity(nt);
      if (a.repairs.length) throw new TaskermanError('CHECK_FAILED', `a repair is still running on this node: ${a.repairs.join(', ')}`);
      await checkRing(nt, { peerCheck: cfg.peer_check });
    },
  });
}
