// Follows one task's record through a ZooKeeper data watch, for a runner working on one of its nodes:
// the runner learns at once that the task was cancelled (abort the action in flight), halted or paused
// (start nothing new), without re-reading the record before every step.
//
// The watch is on the task's control record, rewritten only by changes a runner must act on (TaskStore's
// updateTask): the router's and the settler's writes of the task record (`routed`, `running`) wake nobody.
// A task recorded before control records existed has none; its record itself is watched then.
import { fromJsonBuffer, type NodeData } from '../coordination/coordinator.js';
import type { TaskRecord } from './task.js';
import type { TaskGuard, TaskStore } from './task-store.js';

export class TaskFollower {
  private record: TaskRecord | undefined;
  private version = -1;
  /** The control record's version as last read with the task record (the guard of a node's start). */
  private controlVersion = -1;
  /** False once the task turned out to have no control record (recorded by an older version). */
  private hasControl = true;
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
    await this.read(true);
    return this.record;
  }

  private rearm(): void {
    void this.read(true).catch(() => {
      this.unwatched = true;
      this.wake();
    });
  }

  /**
   * The control record (with the watch, when `watch`), then the task record: ZooKeeper answers a session's
   * requests in order, so the record read is at least as new as the control version read with it, and a
   * start guarded on that version is refused if anything a runner must act on changed since.
   */
  private async read(watch: boolean): Promise<void> {
    if (this.stopped) return;
    const c = this.store.coordinator;
    const p = this.store.paths;
    const onChange = watch ? () => this.rearm() : undefined;
    if (this.hasControl) {
      const [ctl, d] = await Promise.all([c.get(p.control(this.taskId), onChange), c.get(p.task(this.taskId))]);
      if (ctl || !d) {
        if (watch) this.unwatched = false;
        if (ctl) this.controlVersion = Math.max(this.controlVersion, ctl.stat.version);
        this.apply(d);
        return;
      }
      this.hasControl = false;
    }
    const d = await c.get(p.task(this.taskId), onChange);
    if (watch) this.unwatched = false;
    this.apply(d);
  }

  /**
   * Reads the record now, without arming another watch: for a writer whose guarded write was refused
   * because the record moved on before the watch told us.
   */
  async refresh(): Promise<TaskRecord | undefined> {
    await this.read(false);
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

  /** What a node's start is guarded on: it is refused if the task changed in a way a runner must act on since `current`. */
  get guard(): TaskGuard {
    return this.hasControl ? { path: this.store.paths.control(this.taskId), version: this.controlVersion } : { path: this.store.paths.task(this.taskId), version: this.version };
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
