// Follows one task's record through a ZooKeeper data watch, for a runner working on one of its nodes:
// the runner learns at once that the task was cancelled (abort the action in flight), halted or paused
// (start nothing new), without re-reading the record before every step.
import { fromJsonBuffer, type NodeData } from '../coordination/coordinator.js';
import type { TaskRecord } from './task.js';
import type { TaskStore } from './task-store.js';

export class TaskFollower {
  private record: TaskRecord | undefined;
  private version = -1;
  private readonly cancelAc = new AbortController();
  private readonly endAc = new AbortController();
  private waiters: Array<() => void> = [];
  private stopped = false;
  /** True while the record is not watched: a re-read failed (ZooKeeper away); re-armed when the session is back. */
  private unwatched = false;
  private offSession: (() => void) | undefined;

  constructor(
    private readonly store: TaskStore,
    readonly taskId: string,
  ) {}

  /** Reads the record and arms the watch; resolves with the record (undefined if it is gone). */
  async start(): Promise<TaskRecord | undefined> {
    // A watch that fired while ZooKeeper was away (session lost) could not be re-armed then: re-arm it when
    // the session is back, or a cancel or halt made after a ZooKeeper blip would never reach this runner.
    this.offSession ??= this.store.coordinator.onSessionState((state) => {
      if ((state === 'connected' || state === 'reconnected') && this.unwatched) this.rearm();
    });
    await this.read();
    return this.record;
  }

  private rearm(): void {
    void this.read().catch(() => {
      this.unwatched = true;
      this.wake();
    });
  }

  private async read(): Promise<void> {
    if (this.stopped) return;
    const d = await this.store.coordinator.get(this.store.paths.task(this.taskId), () => this.rearm());
    this.unwatched = false;
    this.apply(d);
  }

  /**
   * Reads the record now, without arming another watch: for a writer whose guarded write was refused
   * because the record moved on before the watch told us.
   */
  async refresh(): Promise<TaskRecord | undefined> {
    if (!this.stopped) this.apply(await this.store.coordinator.get(this.store.paths.task(this.taskId)));
    return this.record;
  }

  private apply(d: NodeData | undefined): void {
    // Watch and refresh reads may land out of order: never step back to an older version.
    if (d && d.stat.version < this.version) return;
    this.record = d ? fromJsonBuffer<TaskRecord>(d.data) : undefined;
    this.version = d ? d.stat.version : -1;
    const state = this.record?.state;
    if (!d || state === 'cancelled') {
      this.cancelAc.abort(new Error(d ? `task cancelled${this.record?.cancelled ? ` by ${this.record.cancelled.by}` : ''}` : 'task record removed'));
    }
    if (!d || state === 'cancelled' || state === 'halted') this.endAc.abort(new Error(`task ${state ?? 'removed'}`));
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  get current(): TaskRecord | undefined {
    return this.record;
  }

  /** The ZooKeeper version of `current` (-1 when there is none): a write guarded on it fails if the task moved on. */
  get currentVersion(): number {
    return this.version;
  }

  /** Aborts when the task is cancelled (or its record removed): actions in flight stop. */
  get cancelled(): AbortSignal {
    return this.cancelAc.signal;
  }

  /** Aborts when the task is cancelled or halted: nothing new starts, waits end. */
  get ended(): AbortSignal {
    return this.endAc.signal;
  }

  get paused(): boolean {
    return Boolean(this.record?.paused);
  }

  /** Resolves at the next change of the record, or when `signal` aborts. */
  changed(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted || this.stopped) return resolve();
      const done = () => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
  }

  stop(): void {
    this.stopped = true;
    this.offSession?.();
    this.offSession = undefined;
    this.wake();
  }
}
