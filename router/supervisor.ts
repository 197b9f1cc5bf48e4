// The supervisor: a target with no live runner must not hold a rollout forever, nor pass silently. Nodes
// still QUEUED a grace period after their task was routed, whose runner is not a live member, end DEAD with
// that reason (their work item goes to the dead-letter queue, so `dlq redrive` can retry them once the
// runner is back) and count toward max_failures. Runs in every router; an ephemeral lock lets one sweep at
// a time.
//
// A sweep costs what a fleet-wide task can afford every 30 s: one listing of the cluster's live members (the
// names only, not each member's record), the task's target list, and the node records of the targets with no
// live runner only — not every node record of the task (10,000 reads a pass for a 10,000-node task).
import { EventEmitter } from 'node:events';
import { tripBreaker } from '../core/task/breaker.js';
import { isNodeExists, toJsonBuffer } from '../core/coordination/coordinator.js';
import { liveNodeNames } from '../core/coordination/membership.js';
import { sendToDeadLetter } from '../core/queue/dead-letter.js';
import type { Logger } from '../core/logger.js';
import { mapLimit } from '../core/pool.js';
import type { QueueNames } from '../core/queue/queue-names.js';
import { encodeWorkMessage, FINAL_TASK_STATES } from '../core/task/task.js';
import type { NodeRecord } from '../core/task/task.js';
import type { TaskStore } from '../core/task/task-store.js';
import type { WorkQueue } from '../core/queue/work-queue.js';
import { formatDuration } from '../core/duration.js';

export interface SupervisorOptions {
  store: TaskStore;
  queue: WorkQueue;
  names: QueueNames;
  logger: Logger;
  /** How long a routed node may wait for a live runner. Default 10 min. */
  graceMs?: number;
  /** How often to look. Default 30 s. */
  intervalMs?: number;
  now?: () => number;
}

export interface SupervisorEvents {
  /** A node given up for want of a live runner: DEAD, its work item in the cluster's dead-letter queue. */
  gaveUp: [{ taskId: string; node: string; cluster: string; reason: string; attempts: number; at: string }];
  /** The give-up halted its task (circuit breaker). */
  halted: [{ taskId: string; cluster: string; reason: string }];
}

export class Supervisor extends EventEmitter<SupervisorEvents> {
  private readonly o: Required<SupervisorOptions>;
  /** Tasks seen in a final state: never read again. */
  private readonly done = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(opts: SupervisorOptions) {
    super();
    this.o = { graceMs: 10 * 60_000, intervalMs: 30_000, now: Date.now, ...opts };
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .catch((err: unknown) => this.o.logger.warn({ err: String(err) }, 'supervisor sweep failed'))
        .finally(() => (this.running = undefined));
    }, this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One sweep, unless another process sweeps now. Returns the nodes it gave up on. */
  async sweep(): Promise<Array<{ taskId: string; node: string }>> {
    const { store } = this.o;
    const lock = `${store.paths.root}/supervisor`;
    try {
      await store.coordinator.create(lock, toJsonBuffer({ session: store.coordinator.sessionId }), 'ephemeral');
    } catch (err) {
      if (isNodeExists(err)) return [];
      throw err;
    }
    try {
      return await this.sweepUnlocked();
    } finally {
      await store.coordinator.remove(lock).catch(() => undefined);
    }
  }

  private async sweepUnlocked(): Promise<Array<{ taskId: string; node: string }>> {
    const { store, queue, names, logger } = this.o;
    const given: Array<{ taskId: string; node: string }> = [];
    const now = this.o.now();
    for (const taskId of await store.listTaskIds()) {
      if (this.done.has(taskId)) continue;
      const task = (await store.getTask(taskId))?.value;
      if (!task) continue;
      if (FINAL_TASK_STATES.includes(task.state) && task.state !== 'halted') {
        this.done.add(taskId);
        continue;
      }
      if (task.state !== 'routed' && task.state !== 'running') continue;
      const since = Date.parse(task.resumedAt ?? task.routedAt ?? task.updatedAt);
      if (!(now - since >= this.o.graceMs)) continue;
      const cluster = String(task.spec.cluster);
      const live = await this.liveNodes(cluster);
      for (const n of await this.candidates(taskId, live)) {
        if (n.state !== 'QUEUED' || live.has(n.node)) continue;
        const reason = `no live runner for ${n.node} ${formatDuration(this.o.graceMs)} after the task was routed`;
        const r = await store.updateNode(taskId, n.node, (cur) => (cur.state === 'QUEUED' ? { ...cur, state: 'DEAD', reason, error: 'NO_RUNNER: ' + reason, endedAt: new Date(now).toISOString() } : undefined));
        if (r?.state !== 'DEAD') continue;
        logger.warn({ task_id: taskId, node: n.node, cluster }, reason);
        await sendToDeadLetter(queue, names.clusterDlq(cluster), encodeWorkMessage({ taskId, cluster, node: n.node, action: String(task.spec.action) }), {
          reason,
          code: 'NO_RUNNER',
          source: names.node(cluster, n.node),
          taskId,
          node: n.node,
          attempts: n.attempts,
        });
        given.push({ taskId, node: n.node });
        this.emit('gaveUp', { taskId, node: n.node, cluster, reason, attempts: r.attempts, at: r.endedAt ?? new Date(now).toISOString() });
        const halted = await tripBreaker(store, taskId);
        if (halted) this.emit('halted', { taskId, cluster, reason: halted.reason ?? 'max_failures reached' });
      }
    }
    return given;
  }

  private async liveNodes(cluster: string): Promise<Set<string>> {
    return new Set(await liveNodeNames(this.o.store.coordinator, this.o.store.paths, cluster));
  }

  /** The node records of the task's targets that have no live runner (every record when the target list is incomplete). */
  private async candidates(taskId: string, live: ReadonlySet<string>): Promise<NodeRecord[]> {
    const { store } = this.o;
    const targets = await store.getTargets(taskId);
    if (!targets) return store.listNodes(taskId);
    const recs = await mapLimit(
      targets.filter((t) => !live.has(t)),
      16,
      (node) => store.getNode(taskId, node),
    );
    return recs.flatMap((r) => (r ? [r.value] : []));
  }
}
