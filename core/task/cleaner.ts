// The cleaner: removes finished tasks from ZooKeeper after a retention period, so it does not grow without
// bound. A task is first marked with a tombstone (<root>/tombstones/<task_id>), then its records and its index
// entry are removed, then the tombstone: a cleaner that dies half-way leaves the tombstone, and the next
// run finishes the job. Runs in every router; an ephemeral lock lets one run at a time.
import { isNodeExists, toJsonBuffer, fromJsonBuffer, type Coordinator } from '../coordination/coordinator.js';
import type { Logger } from '../logger.js';
import { mapLimit } from '../pool.js';
import type { TaskRecord } from './task.js';
import type { TaskStore } from './task-store.js';

/** States after which a task's records may go: halted tasks may still be resumed, so they wait too. */
const CLEANABLE = new Set(['succeeded', 'failed', 'cancelled', 'halted']);

export interface GcResult {
  removed: string[];
  kept: number;
}

export interface Tombstone {
  taskId: string;
  cluster: string;
  at: string;
  reason: string;
  /** When the task was emitted: names its entry in the task index, removed with it. */
  emittedAt?: string;
}

/** Removes every task that ended more than `olderThanMs` ago (by `endedAt`), tombstoned ones first. */
export async function collectGarbage(store: TaskStore, olderThanMs: number, now = Date.now(), logger?: Logger): Promise<GcResult> {
  const c = store.coordinator;
  const { paths } = store;
  await c.mkdirp(paths.tombstones);
  const removed: string[] = [];

  // Finish what an earlier run started.
  for (const seg of (await c.children(paths.tombstones)) ?? []) {
    const d = await c.get(`${paths.tombstones}/${seg}`);
    if (!d) continue;
    const t = fromJsonBuffer<Tombstone>(d.data);
    await removeTask(c, store, t);
    removed.push(t.taskId);
  }

  const ids = await store.listTaskIds();
  const cutoff = now - olderThanMs;
  let kept = 0;
  await mapLimit(ids, 8, async (id) => {
    const t = await store.getTask(id);
    if (!t) return;
    const rec: TaskRecord = t.value;
    const ended = Date.parse(rec.endedAt ?? rec.updatedAt);
    if (!CLEANABLE.has(rec.state) || !(ended <= cutoff)) {
      kept++;
      return;
    }
    const tomb: Tombstone = { taskId: id, cluster: String(rec.spec.cluster), at: new Date(now).toISOString(), reason: `${rec.state} at ${rec.endedAt ?? rec.updatedAt}`, emittedAt: rec.emittedAt };
    try {
      await c.create(paths.tombstone(id), toJsonBuffer(tomb));
    } catch (err) {
      if (!isNodeExists(err)) throw err;
    }
    await removeTask(c, store, tomb);
    removed.push(id);
  });
  if (removed.length) logger?.info({ removed: removed.length, kept }, 'cleaner removed finished tasks');
  return { removed, kept };
}

async function removeTask(c: Coordinator, store: TaskStore, t: Tombstone): Promise<void> {
  await c.removeRecursive(store.paths.task(t.taskId));
  if (t.emittedAt !== undefined) await c.removeRecursive(store.paths.taskIndexEntry(t.taskId, t.emittedAt));
  await c.removeRecursive(store.paths.tombstone(t.taskId));
}

/** Runs `collectGarbage` every `intervalMs` in whichever process holds the cleaner lock at that moment. */
export class Cleaner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly store: TaskStore,
    private readonly opts: { retentionMs: number; intervalMs: number; logger: Logger },
  ) {}

  async start(): Promise<void> {
    this.timer = setInterval(() => {
      this.running ??= this.runOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.opts.logger.warn({ err: String(err) }, 'cleaner run failed'))
        .finally(() => (this.running = undefined));
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** One run if no other process is cleaning now; returns undefined when another one is. */
  async runOnce(): Promise<GcResult | undefined> {
    const c = this.store.coordinator;
    try {
      await c.create(this.store.paths.cleaner, toJsonBuffer({ session: c.sessionId, at: new Date().toISOString() }), 'ephemeral');
    } catch (err) {
      if (isNodeExists(err)) return undefined;
      throw err;
    }
    try {
      return await collectGarbage(this.store, this.opts.retentionMs, Date.now(), this.opts.logger);
    } finally {
      await c.remove(this.store.paths.cleaner).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
