// The fleet scanner: every `intervalMs` it reads what no single event tells — tasks by state, each
// cluster's grants, waiting requests and live runners — and every `queueIntervalMs` the depth of the global
// queue and of every dead-letter queue (one ListQueues and one GetQueueAttributes per queue per refresh,
// never per scrape). It emits what it read; the metrics (`core/metrics/fleet-metrics.ts`) and the
// "grant held past its grace" notification listen. One scan at a time; a failed scan is logged and the next
// one tries again.
import { EventEmitter } from 'node:events';
import { describeError } from '../errors.js';
import { readAllGrants, type ClusterGrants } from '../grants/grant-view.js';
import type { Logger } from '../logger.js';
import { mapLimit } from '../pool.js';
import { isDeadLetterQueue, type QueueNames } from '../queue/queue-names.js';
import type { QueueStats, WorkQueue } from '../queue/work-queue.js';
import { TASK_STATES, type TaskRecord, type TaskState } from '../task/task.js';
import type { TaskStore } from '../task/task-store.js';

export interface QueueDepth extends QueueStats {
  queue: string;
  kind: 'global' | 'global_dlq' | 'cluster_dlq';
}

export interface FleetScan {
  at: number;
  tasksByState: Record<TaskState, number>;
  /** Every task record in ZooKeeper. */
  tasks: TaskRecord[];
  grants: ClusterGrants[];
}

export interface FleetScannerEvents {
  scan: [FleetScan];
  queues: [QueueDepth[]];
  problem: [Error];
}

export interface FleetScannerOptions {
  store: TaskStore;
  queue: WorkQueue;
  names: QueueNames;
  logger: Logger;
  /** Tasks and grants. Default 15 s. */
  intervalMs?: number;
  /** Queue depths (GetQueueAttributes per queue). Default 60 s. */
  queueIntervalMs?: number;
  now?: () => number;
}

export class FleetScanner extends EventEmitter<FleetScannerEvents> {
  private readonly o: Required<FleetScannerOptions>;
  private timers: NodeJS.Timeout[] = [];
  private scanning: Promise<void> | undefined;
  private queueing: Promise<void> | undefined;
  last: FleetScan | undefined;
  lastQueues: QueueDepth[] | undefined;

  constructor(opts: FleetScannerOptions) {
    super();
    this.o = { intervalMs: 15_000, queueIntervalMs: 60_000, now: Date.now, ...opts };
  }

  async start(): Promise<void> {
    const tick = () => void this.scanNow();
    const qtick = () => void this.scanQueuesNow();
    tick();
    qtick();
    this.timers = [setInterval(tick, this.o.intervalMs), setInterval(qtick, this.o.queueIntervalMs)];
    for (const t of this.timers) t.unref();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.allSettled([this.scanning, this.queueing]);
  }

  /** One scan of tasks and grants (joins the one running, if any). */
  scanNow(): Promise<void> {
    this.scanning ??= this.scan()
      .catch((err: unknown) => this.fail('fleet scan failed', err))
      .finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  /** One refresh of the queue depths (joins the one running, if any). */
  scanQueuesNow(): Promise<void> {
    this.queueing ??= this.scanQueues()
      .catch((err: unknown) => this.fail('queue depth refresh failed', err))
      .finally(() => (this.queueing = undefined));
    return this.queueing;
  }

  private fail(what: string, err: unknown): void {
    this.o.logger.warn({ err: describeError(err) }, what);
    this.emit('problem', err instanceof Error ? err : new Error(String(err)));
  }

  private async scan(): Promise<void> {
    const { store } = this.o;
    const tasksByState = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
    const recs = await mapLimit(await store.listTaskIds(), 16, (id) => store.getTask(id));
    const tasks: TaskRecord[] = [];
    for (const r of recs) {
      if (!r) continue;
      tasksByState[r.value.state] += 1;
      tasks.push(r.value);
    }
    const scan: FleetScan = { at: this.o.now(), tasksByState, tasks, grants: await readAllGrants(store) };
    this.last = scan;
    this.emit('scan', scan);
  }

  private async scanQueues(): Promise<void> {
    const { queue, names } = this.o;
    const dlqs = (await queue.list(`${names.prefix}--`)).filter((q) => isDeadLetterQueue(q) && q !== names.globalDlq);
    const wanted: Array<{ queue: string; kind: QueueDepth['kind'] }> = [
      { queue: names.global, kind: 'global' },
      { queue: names.globalDlq, kind: 'global_dlq' },
      ...dlqs.map((q) => ({ queue: q, kind: 'cluster_dlq' as const })),
    ];
    const depths = await mapLimit(wanted, 8, async (w) => {
      try {
        return { ...w, ...(await queue.stats(w.queue)) };
      } catch {
        return undefined; // not created yet (a router creates the global queue on start)
      }
    });
    const out = depths.filter((d): d is QueueDepth => d !== undefined);
    this.lastQueues = out;
    this.emit('queues', out);
  }
}
