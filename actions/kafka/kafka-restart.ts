// `kafka:restart`: restart this broker without taking any partition below min.insync.replicas, the active
// controller last.
//
//   pre_check   this broker is registered; for every partition it hosts (replicas include it), with
//               min = min.insync.replicas: none at or under min (|ISR| <= min: the restart would take it
//               below, or it is below already), none offline; topics whose replication factor is under min
//               can never satisfy it and are skipped, as Strimzi does; the active controller goes last (it
//               defers while other brokers of its task have not started)
//   execute     restart the unit (a controlled shutdown moves leadership off first), wait until the broker is
//               registered again
//   post_check  the broker back in the ISR of every partition it hosts and no partition under-replicated,
//               within isr_timeout
//
// Idempotent: a checkpoint marks the restart begun. A retried or resumed attempt that finds it accepts this
// broker being away or out of ISRs (its own earlier restart) in the pre_check, counting it as in sync for
// the min ISR rule; restarting twice is harmless.
import { z } from 'zod';
import { TaskermanError } from '../../core/errors.js';
import { defineAction, type ActionContext } from '../action.js';
import { requireConfig } from '../kit/action-config.js';
import { pollUntil, throwIfAborted } from '../kit/poll.js';
import type { ServiceManager } from '../kit/service-manager.js';
import { deferReason, goLast, type TaskPeers } from '../task-peers.js';
import type { KafkaAdmin, PartitionDescription } from './kafka-admin.js';
import type { KafkaRestartConfig } from './kafka-config.js';

export const KAFKA_RESTART = 'kafka:restart';
const BEGUN = 'kafka_restart_begun';
const MIN_ISR = 'min.insync.replicas';
/** How long `defer` trusts its last look at who the controller is. */
const CONTROLLER_CACHE_MS = 30_000;

const args = z.strictObject({});
type Args = z.infer<typeof args>;

export interface KafkaRestartDeps {
  config: KafkaRestartConfig | undefined;
  services: ServiceManager;
  peers: TaskPeers;
  /** The admin client for a config; the CLI tools by default (kafka-cli-admin.ts). */
  admin: (cfg: KafkaRestartConfig) => KafkaAdmin;
}

interface Hosted {
  topic: string;
  p: PartitionDescription;
  minIsr: number;
}

/** Every partition whose replicas include `broker`, with its topic's min.insync.replicas. */
async function hostedPartitions(admin: KafkaAdmin, broker: number, signal: AbortSignal): Promise<{ hosted: Hosted[]; all: Array<{ topic: string; p: PartitionDescription }> }> {
  const names = await admin.listTopics({ listInternal: true }, signal);
  const topics = names.length ? await admin.describeTopics(names, signal) : [];
  const configs = names.length ? await admin.describeTopicConfigs(names, [MIN_ISR], signal) : new Map<string, Record<string, string>>();
  const all = topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.name, p })));
  const hosted = all
    .filter(({ p }) => p.replicas.includes(broker))
    .map(({ topic, p }) => {
      const v = Number(configs.get(topic)?.[MIN_ISR] ?? '1');
      return { topic, p, minIsr: Number.isInteger(v) && v > 0 ? v : 1 };
    });
  return { hosted, all };
}

const tp = (h: { topic: string; p: PartitionDescription }) => `${h.topic}-${h.p.partition}`;
function sample(xs: string[]): string {
  return xs.slice(0, 5).join(', ') + (xs.length > 5 ? ` and ${xs.length - 5} more` : '');
}

export function createKafkaRestartAction(deps: KafkaRestartDeps) {
  const setup = () => {
    const cfg = requireConfig(KAFKA_RESTART, deps.config);
    return { cfg, admin: deps.admin(cfg) };
  };
  const begun = (ctx: ActionContext<Args>) => typeof ctx.checkpoint.get(BEGUN) === 'string';
  let lastController: { at: number; id: number | null } | undefined;

  return defineAction<Args>({
    name: KAFKA_RESTART,
    version: 1,
    description: 'Restarts this Kafka broker when no partition it hosts would fall below min.insync.replicas; the active controller last.',
    args,

    async defer(ctx) {
      const { cfg, admin } = setup();
      // Asked every few seconds while it waits: the task's node records first (one ZooKeeper read), Kafka
      // (two JVM tools) only when others are pending, and its answer reused for a while; the pre_check looks
      // again with the grant in hand.
      if ((await deps.peers.pending(ctx.taskId, ctx.node)).length === 0) return undefined;
      const now = Date.now();
      if (!lastController || now - lastController.at > CONTROLLER_CACHE_MS) lastController = { at: now, id: (await admin.describeCluster(ctx.signal)).controller };
      return lastController.id === cfg.broker_id ? deferReason(deps.peers, ctx.taskId, ctx.node, `broker ${cfg.broker_id} is the active controller`) : undefined;
    },

    async preCheck(ctx) {
      const { cfg, admin } = setup();
      const me = cfg.broker_id;
      const resumed = begun(ctx);
      const cluster = await admin.describeCluster(ctx.signal);
      if (!resumed && !cluster.brokers.some((b) => b.id === me)) {
        throw new TaskermanError('CHECK_FAILED', `broker ${me} is not registered in the cluster (live: ${cluster.brokers.map((b) => b.id).join(', ') || 'none'})`, { hint: 'a broker that is down or in log recovery is not restarted: let it finish starting' });
      }
      const { hosted } = await hostedPartitions(admin, me, ctx.signal);
      const offline: string[] = [];
      const atOrUnder: string[] = [];
      for (const h of hosted) {
        if (h.p.replicas.length < h.minIsr) continue; // can never satisfy min ISR: not this restart's concern
        // A resumed attempt counts this broker as in sync: it is away because of our own earlier restart.
        const isr = resumed && !h.p.isr.includes(me) ? [...h.p.isr, me] : h.p.isr;
        if (h.p.leader === null && !resumed) offline.push(tp(h));
        else if (isr.length <= h.minIsr) atOrUnder.push(`${tp(h)} (ISR ${h.p.isr.join(',') || 'empty'}, min.insync.replicas ${h.minIsr})`);
      }
      if (offline.length) throw new TaskermanError('CHECK_FAILED', `${offline.length} partition(s) this broker hosts have no leader: ${sample(offline)}`);
      if (atOrUnder.length) {
        throw new TaskermanError('CHECK_FAILED', `${atOrUnder.length} partition(s) this broker hosts are at or under min.insync.replicas; restarting it would stop acks=all writes: ${sample(atOrUnder)}`, {
          hint: 'wait for the replicas to catch up (kafka-topics.sh --describe --under-min-isr-partitions / --at-min-isr-partitions)',
        });
      }
      if (cluster.controller === me) {
        await goLast(ctx, deps.peers, { why: `broker ${me} is the active controller`, pollMs: cfg.poll_interval, maxWaitMs: cfg.controller_last_wait, retryAfterMs: Math.max(cfg.poll_interval, 1000) });
      }
      ctx.logger.info({ partitions: hosted.length, controller: cluster.controller }, 'safe to restart this broker');
    },

    async execute(ctx) {
      const { cfg, admin } = setup();
      if (!begun(ctx)) await ctx.checkpoint.set(BEGUN, new Date().toISOString());
      throwIfAborted(ctx.signal, `restarting ${cfg.unit}`);
      ctx.logger.info({ unit: cfg.unit }, 'restarting the broker');
      await deps.services.restart(cfg.unit, ctx.signal);
      await pollUntil(
        async () => {
          const c = await admin.describeCluster(ctx.signal);
          return c.brokers.some((b) => b.id === cfg.broker_id) ? { done: true, value: undefined } : { done: false, seen: `registered brokers: ${c.brokers.map((b) => b.id).join(', ')}` };
        },
        { what: `broker ${cfg.broker_id} to register again`, timeoutMs: cfg.ready_timeout, intervalMs: cfg.poll_interval, signal: ctx.signal },
      );
    },

    async postCheck(ctx) {
      const { cfg, admin } = setup();
      const me = cfg.broker_id;
      await pollUntil(
        async () => {
          const { hosted, all } = await hostedPartitions(admin, me, ctx.signal);
          const outOfIsr = hosted.filter((h) => !h.p.isr.includes(me)).map(tp);
          const urp = all.filter(({ p }) => p.isr.length < p.replicas.length).map(tp);
          if (outOfIsr.length === 0 && urp.length === 0) return { done: true, value: undefined };
          return { done: false, seen: `broker ${me} not yet in the ISR of ${outOfIsr.length} partition(s)${outOfIsr.length ? ` (${sample(outOfIsr)})` : ''}; ${urp.length} under-replicated partition(s)${urp.length ? ` (${sample(urp)})` : ''}` };
        },
        { what: `broker ${me} back in every ISR and no under-replicated partition`, timeoutMs: cfg.isr_timeout, intervalMs: cfg.poll_interval, signal: ctx.signal },
      );
      await ctx.checkpoint.set(BEGUN, null);
      ctx.logger.info('broker back in every ISR');
    },
  });
}
