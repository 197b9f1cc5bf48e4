// The per-node daemon. It registers as a live member, long-polls its node queue and its cluster's queue,
// and handles one work item at a time (a node is never maintained by two tasks at once):
//
//   parse → drop duplicates (node already terminal, or owned by another live session) → WAITING →
//   lease one of `limit` slots (FIFO) → STARTED → preCheck → execute → postCheck → release →
//   SUCCEEDED and ack;  on failure: backoff and retry, counted here, then DEAD and the dead-letter queue;
//   too many DEAD nodes halt the task (circuit breaker).
//
// The message stays invisible while the runner holds it (visibility heartbeat), so it reappears only if the
// runner dies. Every state change is recorded in ZooKeeper with its time. A step never starts on a slot
// the runner is not sure it holds (the lease's signal aborts when the session is suspended or lost).
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { ActionCheckpoint, AnyAction, ActionContext, AttemptInfo } from '../actions/action.js';
import { backoffDelay } from '../core/backoff.js';
import { tripBreaker } from '../core/task/breaker.js';
import { isoNow } from '../core/clock.js';
import { CoordinatorError } from '../core/coordination/coordinator.js';
import { sendToDeadLetter } from '../core/queue/dead-letter.js';
import { delay } from '../core/delay.js';
import { AbortedError, describeError, errorCode, MessageError, SessionLostError, TaskermanError, TimeoutError } from '../core/errors.js';
import { Semaphore, type Lease } from '../core/coordination/lease.js';
import { TaskFollower } from '../core/task/task-follower.js';
import { describeWindow, isInWindow } from '../core/task/window.js';
import { TaskChangedError, type TaskGuard, type Versioned } from '../core/task/task-store.js';
import type { Logger } from '../core/logger.js';
import { Membership } from '../core/coordination/membership.js';
import { parseTaskSpec, type TaskSpec } from '../core/task/task-spec.js';
import { parseWorkMessage, TERMINAL_NODE_STATES, type AttemptRecord, type NodeRecord, type TaskRecord, type WorkItem } from '../core/task/task.js';
import { QueueDoesNotExistError, type QueueMessage } from '../core/queue/work-queue.js';
import { compileRunnerOptions, type CompiledRunnerOptions, type RunnerOptions } from './runner-options.js';

export interface RunnerEvents {
  /** A node changed state through this runner. */
  node: [{ taskId: string; node: string; state: NodeRecord['state']; attempt: number; error?: string }];
  duplicate: [{ taskId: string; node: string; reason: string }];
  deadLetter: [{ taskId?: string; node?: string; reason: string; attempts?: number; messageId: string }];
  /** One attempt of an action ended (pre_check through post_check), with how it ended and how long it took. */
  attempt: [{ taskId: string; node: string; action: string; attempt: number; result: 'succeeded' | 'failed' | 'cancelled' | 'slot_lost'; durationMs: number }];
  /** The circuit breaker halted a task after a node of this runner ended DEAD. */
  halted: [{ taskId: string; reason: string }];
  /** A failure the daemon survived (logged too); not 'error', which would crash a process with no listener. */
  problem: [Error];
}

/** Attempt outcome. */
type Outcome = { ok: true } | { ok: false; error: unknown; slotLost: boolean; cancelled: boolean };

const STOPPED = Symbol('stopped');
const INTERRUPTED = 'interrupted:';
/** Bound of a node's checkpoint (ActionContext.checkpoint), as JSON: node records stay small. */
const CHECKPOINT_MAX_BYTES = 4096;

export class Runner extends EventEmitter<RunnerEvents> {
  readonly cluster: string;
  readonly node: string;
  private readonly o: CompiledRunnerOptions;
  private readonly log: Logger;
  private readonly membership: Membership;
  /** Graceful stop: no new message, waits give up, the action in flight finishes. */
  private readonly stopping = new AbortController();
  /** Hard stop: actions are aborted too (drain timeout, or a simulated crash). */
  private readonly hard = new AbortController();
  private dead = false;
  private loops: Promise<void>[] = [];
  private chain: Promise<void> = Promise.resolve();
  private busy = 0;
  /** The node record as this runner last wrote it (one item at a time), to skip a read before the next write. */
  private known: { taskId: string; rec: Versioned<NodeRecord> } | undefined;

  constructor(opts: RunnerOptions) {
    super();
    this.o = compileRunnerOptions(opts);
    this.cluster = this.o.cluster;
    this.node = this.o.node;
    this.log = this.o.logger.child({ component: 'runner', cluster: this.cluster, node: this.node });
    this.membership = new Membership(this.o.store.coordinator, this.o.store.paths);
  }

  private get queues(): string[] {
    return [this.o.names.node(this.cluster, this.node), this.o.names.cluster(this.cluster)];
  }

  async start(): Promise<void> {
    await this.o.store.init();
    await this.membership.join({
      node: this.node,
      cluster: this.cluster,
      pid: process.pid,
      host: hostname(),
      version: this.o.version,
      since: isoNow(this.o.clock),
    });
    this.loops = this.queues.map((q) => this.poll(q));
    this.log.info({ queues: this.queues }, 'runner started');
  }

  /**
   * Drains: stops receiving, gives back messages not started, lets the action in flight finish (aborting it
   * after drainTimeoutMs), leaves the membership. Resolves when done.
   */
  async stop(): Promise<void> {
    if (this.stopping.signal.aborted) {
      await Promise.all(this.loops);
      return;
    }
    this.log.info('runner stopping: draining');
    this.stopping.abort(new AbortedError('runner is stopping'));
    const t = setTimeout(() => this.hard.abort(new AbortedError('runner drain timeout')), this.o.drainTimeoutMs);
    t.unref();
    await Promise.all(this.loops);
    await this.chain;
    clearTimeout(t);
    await this.membership.leave();
    this.log.info('runner stopped');
  }

  /**
   * Simulates a crash, for tests: everything stops at once, nothing is cleaned up or recorded, and the
   * coordinator session is closed, so ephemeral slots and ownership vanish as with a dead process.
   */
  async kill(): Promise<void> {
    this.dead = true;
    this.stopping.abort(new AbortedError('runner killed'));
    this.hard.abort(new AbortedError('runner killed'));
    await this.o.store.coordinator.close().catch(() => undefined);
    await Promise.allSettled(this.loops);
    await this.chain.catch(() => undefined);
  }

  private guard(): void {
    if (this.dead) throw STOPPED;
  }

  private async poll(queue: string): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      // One item at a time: do not take a message this runner cannot start soon.
      if (this.busy > 0) await this.chain;
      if (signal.aborted) break;
      let msgs: QueueMessage[];
      try {
        msgs = await this.o.queue.receive(queue, { max: 1, waitSec: this.o.waitSec, visibilitySec: this.o.visibilitySec, signal });
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof QueueDoesNotExistError) {
          this.log.debug({ queue }, 'queue does not exist yet (created by the router on first fan-out)');
        } else {
          this.log.warn({ queue, err: describeError(err) }, 'receive failed');
          this.emit('problem', err as Error);
        }
        await delay(this.o.retryPauseMs, signal);
        continue;
      }
      for (const m of msgs) {
        if (this.dead) return;
        this.busy++;
        const stopHeartbeat = this.heartbeat(queue, m);
        const job = this.chain.then(async () => {
          try {
            await this.handle(queue, m);
          } catch (err) {
            if (err !== STOPPED && !this.dead) {
              this.log.error({ err: describeError(err), message_id: m.id }, 'work item failed unexpectedly; it will be redelivered');
              this.emit('problem', err as Error);
            }
          } finally {
            stopHeartbeat();
            this.busy--;
          }
        });
        this.chain = job;
      }
    }
  }

  /** Keeps the message invisible while this runner holds it. Returns the function that stops it. */
  private heartbeat(queue: string, m: QueueMessage): () => void {
    const every = Math.max(1000, (this.o.visibilitySec * 1000) / 3);
    const t = setInterval(() => {
      if (this.dead) return;
      this.o.queue.changeVisibility(queue, m.receiptHandle, this.o.visibilitySec).catch((err: unknown) => {
        this.log.warn({ queue, err: describeError(err) }, 'visibility heartbeat failed');
      });
    }, every);
    return () => clearInterval(t);
  }

  private async ack(queue: string, m: QueueMessage): Promise<void> {
    this.guard();
    await this.o.queue.delete(queue, m.receiptHandle);
  }

  /** Give a message back at once (shutdown): it is picked up again when this node's runner comes back. */
  private async giveBack(queue: string, m: QueueMessage): Promise<void> {
    this.guard();
    await this.o.queue.changeVisibility(queue, m.receiptHandle, 0).catch(() => undefined);
  }

  private async deadLetter(queue: string, m: QueueMessage, err: unknown, item?: WorkItem, attempts?: number): Promise<void> {
    this.guard();
    const reason = describeError(err);
    await sendToDeadLetter(this.o.queue, this.o.names.clusterDlq(this.cluster), m.body, {
      reason,
      code: errorCode(err),
      source: queue,
      taskId: item?.taskId,
      node: item?.node,
      attempts,
    });
    await this.ack(queue, m);
    this.emit('deadLetter', { taskId: item?.taskId, node: item?.node, reason, ...(attempts !== undefined ? { attempts } : {}), messageId: m.id });
  }

  private async handle(queue: string, m: QueueMessage): Promise<void> {
    this.guard();
    const { store } = this.o;
    let item: WorkItem;
    try {
      item = parseWorkMessage(m.body);
    } catch (err) {
      if (!(err instanceof MessageError)) throw err;
      this.log.warn({ queue, message_id: m.id, reason: describeError(err) }, 'malformed work item: dead-lettered');
      await this.deadLetter(queue, m, err);
      return;
    }
    if (item.cluster !== this.cluster || item.node !== this.node) {
      await this.deadLetter(queue, m, new MessageError(`work item for ${item.cluster}/${item.node} reached the runner of ${this.cluster}/${this.node}`), item);
      return;
    }
    const log = this.log.child({ task_id: item.taskId, action: item.action });
    // One read of the task record, with a watch that keeps it current for as long as this item is handled.
    const follower = new TaskFollower(store, item.taskId);
    try {
      await this.handleTask(queue, m, item, follower, log);
    } finally {
      follower.stop();
    }
  }

  private async handleTask(queue: string, m: QueueMessage, item: WorkItem, follower: TaskFollower, log: Logger): Promise<void> {
    const { store } = this.o;
    const task = await follower.start();
    if (!task) {
      await this.deadLetter(queue, m, new TaskermanError('NOT_FOUND', `task ${item.taskId} has no record in ZooKeeper (expired, or never routed)`, { retryable: false }), item);
      return;
    }
    const rec = await store.getNode(item.taskId, this.node);
    this.known = rec ? { taskId: item.taskId, rec } : undefined;
    if (!rec) {
      await this.deadLetter(queue, m, new TaskermanError('NOT_FOUND', `node ${this.node} is not a target of task ${item.taskId}`, { retryable: false }), item);
      return;
    }
    if (TERMINAL_NODE_STATES.includes(rec.value.state)) {
      log.info({ state: rec.value.state }, 'duplicate work item: node already done');
      this.emit('duplicate', { taskId: item.taskId, node: this.node, reason: `already ${rec.value.state}` });
      await this.ack(queue, m);
      return;
    }
    if (!(await store.claimNode(item.taskId, this.node))) {
      // Another session owns the node: a live one working on its own copy, or this node's previous runner,
      // dead, whose session has not expired yet. Deleting the message would lose the work in the second
      // case, so look again later: by then the node is done (and this copy is dropped) or free.
      const later = Math.min(this.o.visibilitySec, 10);
      log.info({ retry_in_s: later }, 'node owned by another session; looking again later');
      this.emit('duplicate', { taskId: item.taskId, node: this.node, reason: 'owned by another session' });
      this.guard();
      await this.o.queue.changeVisibility(queue, m.receiptHandle, later);
      return;
    }
    try {
      await this.runNode(queue, m, item, task, follower, log);
    } finally {
      if (!this.dead) await store.releaseNode(item.taskId, this.node).catch(() => undefined);
    }
  }

  private async setNode(item: WorkItem, fn: (r: NodeRecord) => NodeRecord | undefined, taskGuard?: TaskGuard): Promise<NodeRecord | undefined> {
    this.guard();
    const known = this.known?.taskId === item.taskId ? this.known.rec : undefined;
    const v = await this.o.store.updateNodeVersioned(item.taskId, this.node, fn, known, taskGuard);
    this.known = v ? { taskId: item.taskId, rec: v } : undefined;
    const r = v?.value;
    if (r) this.emit('node', { taskId: item.taskId, node: this.node, state: r.state, attempt: r.attempts, ...(r.error ? { error: r.error } : {}) });
    return r;
  }

  private now(): string {
    return isoNow(this.o.clock);
  }

  /** Ends the node SKIPPED (task halted or cancelled) and acks. */
  private async skip(queue: string, m: QueueMessage, item: WorkItem, task: TaskRecord): Promise<void> {
    const reason = task.state === 'cancelled' ? `task cancelled by ${task.cancelled?.by ?? 'someone'}` : `task ${task.state}${task.reason ? `: ${task.reason}` : ''}`;
    await this.setNode(item, (r) => ({ ...r, state: 'SKIPPED', reason, endedAt: this.now() }));
    await this.ack(queue, m);
    await this.o.store.settleIfDone(item.taskId);
  }

  private async runNode(queue: string, m: QueueMessage, item: WorkItem, task: TaskRecord, follower: TaskFollower, log: Logger): Promise<void> {
    const { store, registry } = this.o;
    if (task.state === 'halted' || task.state === 'cancelled') return this.skip(queue, m, item, task);

    let spec: TaskSpec;
    let action: AnyAction;
    let args: unknown;
    try {
      spec = parseTaskSpec(task.spec);
      action = registry.get(spec.action, spec.version);
      args = registry.parseArgs(action, spec.args);
    } catch (err) {
      log.error({ err: describeError(err) }, 'cannot run this task here');
      await this.setNode(item, (r) => ({ ...r, state: 'DEAD', error: describeError(err), endedAt: this.now() }));
      await this.deadLetter(queue, m, err, item, 0);
      await this.breaker(item, log);
      return;
    }

    const semaphore = new Semaphore(store.coordinator, store.paths.taskLeases(this.cluster, item.taskId));
    // The slot is held across retries: a node whose attempt failed may be the one that is down, so the
    // rollout does not move on to another node until this one succeeded or was given up.
    let lease: Lease | undefined;
    try {
      for (;;) {
        if (this.stopping.signal.aborted) {
          await lease?.release();
          lease = undefined;
          await this.setNode(item, (r) => ({ ...r, state: 'QUEUED', reason: 'runner stopped before the node finished; it resumes when the runner is back' }));
          await this.giveBack(queue, m);
          return;
        }
        const current = follower.current;
        if (!current) {
          log.warn('task record removed while the node was pending; dropping the work item');
          await this.ack(queue, m);
          return;
        }
        if (current.state === 'halted' || current.state === 'cancelled') {
          await lease?.release();
          lease = undefined;
          return this.skip(queue, m, item, current);
        }
        if (current.paused && !lease) {
          // Admission is stopped; a node already holding its slot (retrying) goes on.
          await this.setNode(item, (r) => ({ ...r, state: 'WAITING', reason: `task paused by ${current.paused?.by ?? 'someone'}` }));
          await follower.changed(this.stopping.signal);
          continue;
        }
        if (!lease && spec.window && !isInWindow(spec.window, this.o.clock.now())) {
          const reason = `outside its maintenance window (${describeWindow(spec.window)})`;
          await this.setNode(item, (r) => (r.state === 'WAITING' && r.reason === reason ? undefined : { ...r, state: 'WAITING', reason }));
          await delay(this.o.windowRecheckMs, AbortSignal.any([this.stopping.signal, follower.ended]));
          continue;
        }
        let freshLease = false;
        if (!lease || lease.lost) {
          freshLease = true;
          await lease?.release().catch(() => undefined);
          lease = undefined;
          await this.setNode(item, (r) => ({ ...r, state: 'WAITING', reason: 'waiting for a slot' }));
          try {
            lease = await semaphore.acquire({
              limit: task.limit,
              holder: { taskId: item.taskId, node: this.node, cluster: this.cluster },
              signal: AbortSignal.any([this.stopping.signal, follower.ended]),
              onWaiting: (ahead) => log.debug({ ahead }, 'waiting for a slot'),
            });
          } catch (err) {
            if (this.stopping.signal.aborted || follower.ended.aborted) continue;
            if (err instanceof SessionLostError || err instanceof CoordinatorError) {
              log.warn({ err: describeError(err) }, 'lost ZooKeeper while waiting for a slot; asking again');
              await delay(this.o.retryPauseMs, this.stopping.signal);
              continue;
            }
            throw err;
          }
          // Paused, halted, cancelled or out of its window while we waited: give the slot back and look again.
          if (follower.ended.aborted || follower.current?.paused || (spec.window && !isInWindow(spec.window, this.o.clock.now()))) {
            await lease.release();
            lease = undefined;
            continue;
          }
        }
        // The start is written only if the task record is still the one we decided on (a transaction check on
        // its version; the first start also moves the task to running in the same write): a cancel, halt or
        // pause that lands after we looked makes the write fail, and the loop looks again.
        const seen = follower.current ?? current;
        const taskGuard: TaskGuard = { version: follower.currentVersion, ...(seen.state === 'routed' ? { write: { ...seen, state: 'running' } } : {}) };
        const token = lease.fencingToken;
        let started: NodeRecord | undefined;
        try {
          started = await this.setNode(
            item,
            (r) => {
              const history = closeInterrupted(r.history, this.now());
              const attempt = r.attempts + 1;
              return {
                ...r,
                state: 'STARTED',
                attempts: attempt,
                startedAt: this.now(),
                reason: undefined,
                history: [...history, { attempt, startedAt: this.now(), fencingToken: token }],
              };
            },
            taskGuard,
          );
        } catch (err) {
          if (!(err instanceof TaskChangedError)) throw err;
          const now = await follower.refresh();
          log.debug({ state: now?.state, paused: Boolean(now?.paused) }, 'task changed just before the node started; looking again');
          // A slot just taken is given back when the task was paused meanwhile (admission stopped); a node
          // retrying on its slot keeps it, as above. Halted or cancelled: the top of the loop gives it back.
          if (now?.paused && freshLease) {
            await lease.release();
            lease = undefined;
          }
          continue;
        }
        const attempt = started?.attempts ?? 1;
        log.info({ attempt, fencing_token: token }, 'node started');

        const began = Date.now();
        const outcome = await this.runSteps(action, args, item, attempt, lease, spec.timeoutMs, follower.cancelled, log);
        this.guard();
        const result = outcome.ok ? 'succeeded' : outcome.cancelled ? 'cancelled' : outcome.slotLost ? 'slot_lost' : 'failed';
        this.emit('attempt', { taskId: item.taskId, node: this.node, action: spec.action, attempt, result, durationMs: Date.now() - began });

        if (outcome.ok) {
          await lease.release();
          lease = undefined;
          await this.setNode(item, (r) => ({ ...r, state: 'SUCCEEDED', endedAt: this.now(), error: undefined, history: endAttempt(r.history, attempt, this.now()) }));
          log.info({ attempt }, 'node succeeded');
          await this.ack(queue, m);
          await store.settleIfDone(item.taskId);
          return;
        }

        const error = describeError(outcome.error);
        if (outcome.cancelled) {
          await lease.release();
          lease = undefined;
          log.warn({ attempt, err: error }, 'task cancelled during the attempt');
          await this.setNode(item, (r) => ({ ...r, state: 'SKIPPED', reason: `task cancelled during attempt ${attempt}`, error, endedAt: this.now(), history: endAttempt(r.history, attempt, this.now(), error, false) }));
          await this.ack(queue, m);
          await store.settleIfDone(item.taskId);
          return;
        }
        if (outcome.slotLost) {
          // Not the node's fault: ask for a slot again without spending an attempt.
          log.warn({ attempt, err: error }, 'slot lost during the attempt; it does not count against the retry budget');
          await this.setNode(item, (r) => ({ ...r, state: 'WAITING', reason: 'slot lost; waiting for a slot again', history: endAttempt(r.history, attempt, this.now(), error, false) }));
          await delay(this.o.retryPauseMs, this.stopping.signal);
          continue;
        }
        const retryable = !(outcome.error instanceof TaskermanError) || outcome.error.retryable;
        const rec = await this.setNode(item, (r) => ({ ...r, state: 'FAILED', error, endedAt: this.now(), history: endAttempt(r.history, attempt, this.now(), error, true) }));
        const failures = countedFailures(rec?.history ?? []);
        if (retryable && failures <= spec.retry.count) {
          const wait = backoffDelay(failures, { baseMs: spec.retry.backoffMs, maxMs: this.o.maxBackoffMs, random: this.o.random });
          log.warn({ attempt, err: error, retry_in_ms: wait }, 'attempt failed; retrying after backoff, keeping the slot');
          await this.setNode(item, (r) => ({ ...r, reason: `attempt ${attempt} failed; retry ${failures} of ${spec.retry.count} in ${Math.round(wait / 1000)}s` }));
          await delay(wait, AbortSignal.any([this.stopping.signal, lease.signal, follower.ended]));
          continue;
        }
        log.error({ attempt, err: error }, 'node failed for good: dead-lettered');
        await this.setNode(item, (r) => ({ ...r, state: 'DEAD', reason: retryable ? `retries exhausted (${failures} failed attempts)` : 'not retryable' }));
        await this.deadLetter(queue, m, outcome.error, item, attempt);
        // The breaker decides before the slot is given up, so no node starts on it after a failure that
        // halts the task.
        await this.breaker(item, log);
        await lease.release();
        lease = undefined;
        return;
      }
    } finally {
      if (lease && !this.dead) await lease.release().catch(() => undefined);
    }
  }

  /** Halts the task once `max_failures` nodes are DEAD; no further node of it starts. */
  private async breaker(item: WorkItem, log: Logger): Promise<void> {
    const halted = await tripBreaker(this.o.store, item.taskId);
    if (halted) {
      log.error({ reason: halted.reason }, 'task halted by the circuit breaker');
      this.emit('halted', { taskId: item.taskId, reason: halted.reason ?? 'max_failures reached' });
    }
  }

  /** The action's checkpoint: read from the node record as last written, written through it (CAS). */
  private checkpointFor(item: WorkItem): ActionCheckpoint {
    return {
      get: <T>(key: string): T | undefined => (this.known?.taskId === item.taskId ? (this.known.rec.value.checkpoint?.[key] as T | undefined) : undefined),
      set: async (key: string, value: unknown): Promise<void> => {
        await this.setNode(item, (r) => {
          const checkpoint = { ...r.checkpoint, [key]: value };
          const size = Buffer.byteLength(JSON.stringify(checkpoint));
          if (size > CHECKPOINT_MAX_BYTES) throw new TaskermanError('INVALID_ARGS', `checkpoint of ${item.taskId}/${this.node} would be ${size} bytes (at most ${CHECKPOINT_MAX_BYTES})`, { retryable: false });
          return { ...r, checkpoint };
        });
      },
    };
  }

  private async runSteps(action: AnyAction, args: unknown, item: WorkItem, attempt: number, lease: Lease, timeoutMs: number, cancelled: AbortSignal, log: Logger): Promise<Outcome> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new TimeoutError(`timed out after ${Math.round(timeoutMs / 1000)}s`)), timeoutMs);
    const signal = AbortSignal.any([timeout.signal, lease.signal, this.hard.signal, cancelled]);
    const ctx: ActionContext<unknown> = {
      taskId: item.taskId,
      cluster: this.cluster,
      node: this.node,
      args,
      attempt,
      fencingToken: lease.fencingToken,
      signal,
      logger: log.child({ attempt }),
      heartbeat: () => undefined,
      history: (this.known?.rec.value.history ?? []).filter((h) => h.attempt < attempt).map(toAttemptInfo),
      grant: { token: lease.fencingToken, grantedAt: this.now(), taskId: item.taskId },
      checkpoint: this.checkpointFor(item),
    };
    const steps: Array<[string, ((c: ActionContext<unknown>) => Promise<void>) | undefined]> = [
      ['pre_check', action.preCheck],
      ['execute', action.execute],
      ['post_check', action.postCheck],
    ];
    try {
      for (const [name, step] of steps) {
        // Never start a step on a slot we are not sure we hold, nor after a timeout or a hard stop.
        if (signal.aborted) throw signal.reason;
        if (!step) continue;
        try {
          await step.call(action, ctx);
        } catch (err) {
          throw signal.aborted ? signal.reason : err instanceof TaskermanError ? err : new TaskermanError('ACTION_FAILED', `${name}: ${describeError(err)}`, { cause: err });
        }
      }
      if (signal.aborted) throw signal.reason;
      return { ok: true };
    } catch (error) {
      const isCancel = cancelled.aborted && !timeout.signal.aborted && !this.hard.signal.aborted;
      return { ok: false, error, cancelled: isCancel, slotLost: !isCancel && lease.lost && !timeout.signal.aborted && !this.hard.signal.aborted };
    } finally {
      clearTimeout(timer);
    }
  }
}

function toAttemptInfo(h: AttemptRecord): AttemptInfo {
  return {
    attempt: h.attempt,
    startedAt: h.startedAt,
    ...(h.endedAt ? { endedAt: h.endedAt } : {}),
    ...(h.error ? { error: h.error } : {}),
    interrupted: h.error?.startsWith(INTERRUPTED) ?? false,
  };
}

/** An attempt left open by a runner that died is closed as interrupted (it does not count as a failure). */
function closeInterrupted(history: AttemptRecord[], at: string): AttemptRecord[] {
  return history.map((h) => (h.endedAt ? h : { ...h, endedAt: at, error: `${INTERRUPTED} the runner stopped during this attempt`, counted: false }));
}

/** Failed attempts that count against the retry budget: since the last redrive, not lost slots or deaths of the runner. */
export function countedFailures(history: AttemptRecord[]): number {
  return history.filter((h) => h.error && h.counted !== false).length;
}

function endAttempt(history: AttemptRecord[], attempt: number, at: string, error?: string, counted?: boolean): AttemptRecord[] {
  return history.map((h) => (h.attempt === attempt && !h.endedAt ? { ...h, endedAt: at, ...(error ? { error, counted } : {}) } : h));
}
