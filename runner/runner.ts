// The per-node daemon. It registers as a live member and a known node of its cluster, stands for keeper of
// its cluster's budget, long-polls its node queue and its cluster's queue, and takes several work items at
// once (of different tasks): each waits for the node's grant, and since a node has at most one grant, one
// runs at a time, in the order the cluster's keeper decides (a high-priority task goes before a rollout's
// waiting item).
//
//   admit: drop duplicates, skip halted/cancelled tasks, wait while paused or outside the window, and get the
//          node's grant from the cluster budget (found after a reboot, or asked for) → WAITING
//   recordStart (guarded on the task record) → STARTED → pre_check → execute → post_check
//   settleAttempt: SUCCEEDED with the grant's release in the same transaction, ack; on failure backoff and
//          retry keeping the grant, then DEAD (the grant stays, marked dead) and the dead-letter queue;
//          too many DEAD nodes halt the task (circuit breaker).
//
// The grant belongs to the node, not to this process: it outlives a crash, a reboot and a session expiry, so
// a runner that comes back finds it with the redelivered work item and runs the action again (the action
// sees the earlier attempts and its checkpoint). The message stays invisible while the runner holds it
// (visibility heartbeat). A step never starts while the ZooKeeper session is suspended, nor under a grant that
// is no longer the node's.
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import type { ActionCheckpoint, AnyAction, ActionContext, AttemptInfo } from '../actions/action.js';
import { backoffDelay } from '../core/backoff.js';
import { tripBreaker } from '../core/task/breaker.js';
import { isoNow } from '../core/clock.js';
import { CoordinatorError, isZkUnreachable, type TxOp } from '../core/coordination/coordinator.js';
import { sendToDeadLetter } from '../core/queue/dead-letter.js';
import { delay } from '../core/delay.js';
import { AbortedError, DeferredError, describeError, errorCode, MessageError, SessionLostError, TaskermanError, TimeoutError } from '../core/errors.js';
import { BudgetStore } from '../core/budget/budget-store.js';
import { findGrant, waitForGrant, type HeldGrant } from '../core/budget/grant-waiter.js';
import { BudgetKeeper } from '../core/budget/keeper.js';
import { runHealthCheck } from '../core/budget/health-check.js';
import { retryWhileUnreachable } from '../core/coordination/retry-unreachable.js';
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
  attempt: [{ taskId: string; node: string; action: string; attempt: number; result: 'succeeded' | 'failed' | 'cancelled' | 'grant_lost'; durationMs: number }];
  /** The circuit breaker halted a task after a node of this runner ended DEAD. */
  halted: [{ taskId: string; reason: string }];
  /** A failure the daemon survived (logged too); not 'error', which would crash a process with no listener. */
  problem: [Error];
}

/** Attempt outcome. */
type Outcome = { ok: true } | { ok: false; error: unknown; grantLost: boolean; cancelled: boolean };

/** One work item in hand, through the named steps of runNode. */
interface NodeWork {
  queue: string;
  m: QueueMessage;
  item: WorkItem;
  follower: TaskFollower;
  log: Logger;
  spec: TaskSpec;
  action: AnyAction;
  args: unknown;
  grant: HeldGrant | undefined;
  /** The grant was given to this work item now (not found from before a reboot or a crash). */
  freshGrant: boolean;
}

const WAITING_FOR_GRANT = 'waiting for a grant from the cluster budget (`taskerman budget <cluster>` shows why)';

const STOPPED = Symbol('stopped');
/** How long a runner waits for a work item just received to reach its first wait before it polls for the next. */
const PARK_BOUND_MS = 1_000;
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
  /** Work items in hand (each waits for the node's grant or runs under it). */
  private readonly inflight = new Set<Promise<void>>();
  /** The node records as this runner last wrote them, per task, to skip a read before the next write. */
  private readonly known = new Map<string, Versioned<NodeRecord>>();
  /** Tasks whose work item this runner has in hand: a second copy of one (SQS delivers at least once) waits. */
  private readonly inHand = new Set<string>();
  /** Per work item in hand: called once it waits (for its grant, its window, a pause), so the next receive goes out. */
  private readonly parked = new WeakMap<QueueMessage, () => void>();
  private readonly budget: BudgetStore;
  private readonly keeper: BudgetKeeper;
  private suspended = false;
  /** Counts session state changes; a grant verified in the current epoch needs no new read before a step. */
  private sessionEpoch = 0;
  private readonly verifiedEpoch = new WeakMap<HeldGrant, number>();
  private deadCheck: Promise<void> | undefined;
  private unsubscribeSession: (() => void) | undefined;

  constructor(opts: RunnerOptions) {
    super();
    this.o = compileRunnerOptions(opts);
    this.cluster = this.o.cluster;
    this.node = this.o.node;
    this.log = this.o.logger.child({ component: 'runner', cluster: this.cluster, node: this.node });
    this.membership = new Membership(this.o.store.coordinator, this.o.store.paths);
    this.membership.onProblem = (err) => this.log.warn({ err: describeError(err) }, 'membership: will try again');
    this.budget = new BudgetStore(this.o.store.coordinator, this.o.store.paths, this.o.clock);
    this.keeper = new BudgetKeeper({ store: this.budget, cluster: this.cluster, by: this.node, checks: this.o.checks, logger: this.o.logger, clock: this.o.clock, tickMs: this.o.keeperTickMs });
    this.keeper.on('problem', (err) => this.emit('problem', err));
  }

  /** The runner's current ZooKeeper session (it changes after an expiry). */
  get sessionId(): string {
    return this.o.store.coordinator.sessionId;
  }

  /** This runner's keeper of the cluster budget (one runner of the cluster leads at a time). */
  get budgetKeeper(): BudgetKeeper {
    return this.keeper;
  }

  private get queues(): string[] {
    return [this.o.names.node(this.cluster, this.node), this.o.names.cluster(this.cluster)];
  }

  async start(): Promise<void> {
    // Each step is safe to run again: a connection lost during the start does not end it (retry-unreachable.ts).
    const retry = { log: this.log, signal: this.stopping.signal };
    await retryWhileUnreachable('create folders', () => this.o.store.init(), retry);
    this.unsubscribeSession ??= this.o.store.coordinator.onSessionState((st) => {
      // Unreachable from a suspension until the same session is back, or from a loss until a new one is up.
      this.suspended = st === 'suspended' || st === 'lost';
      this.sessionEpoch++;
    });
    await retryWhileUnreachable('register the node', () => this.budget.registerNode(this.cluster, this.node, this.o.zone), retry);
    const since = isoNow(this.o.clock);
    await retryWhileUnreachable(
      'join the members',
      () =>
        this.membership.join({
          node: this.node,
          cluster: this.cluster,
          pid: process.pid,
          host: hostname(),
          version: this.o.version,
          since,
          ...(this.o.zone ? { zone: this.o.zone } : {}),
        }),
      retry,
    );
    await retryWhileUnreachable('stand for keeper', () => this.keeper.start(), retry);
    await this.resumeDeadCheck().catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'could not look for a DEAD grant of this node'));
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
    await Promise.allSettled([...this.inflight]);
    await this.deadCheck;
    clearTimeout(t);
    await this.keeper.stop();
    this.unsubscribeSession?.();
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
    await this.keeper.stop().catch(() => undefined);
    await this.o.store.coordinator.close().catch(() => undefined);
    await Promise.allSettled(this.loops);
    await Promise.allSettled([...this.inflight]);
  }

  private guard(): void {
    if (this.dead) throw STOPPED;
  }

  private async poll(queue: string): Promise<void> {
    const signal = this.stopping.signal;
    // A node's queue exists only from the first fan-out to it: until then, look again at a pace that grows
    // to one call per long poll (a runner on a node never targeted costs 360 requests an hour, not 3,600).
    let missingPauseMs = this.o.retryPauseMs;
    while (!signal.aborted) {
      // Several items may wait for the node's grant at once (the keeper orders them); take no more than that.
      while (this.inflight.size >= this.o.maxItems) await Promise.race(this.inflight);
      if (signal.aborted) break;
      let msgs: QueueMessage[];
      try {
        msgs = await this.o.queue.receive(queue, { max: 1, waitSec: this.o.waitSec, visibilitySec: this.o.visibilitySec, signal });
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof QueueDoesNotExistError) {
          this.log.debug({ queue }, 'queue does not exist yet (created by the router on first fan-out)');
          await delay(missingPauseMs, signal);
          missingPauseMs = Math.min(missingPauseMs * 2, Math.max(this.o.retryPauseMs, this.o.waitSec * 1000));
          continue;
        }
        this.log.warn({ queue, err: describeError(err) }, 'receive failed');
        this.emit('problem', err as Error);
        await delay(this.o.retryPauseMs, signal);
        continue;
      }
      missingPauseMs = this.o.retryPauseMs;
      for (const m of msgs) {
        if (this.dead) return;
        const stopHeartbeat = this.heartbeat(queue, m);
        let parked: () => void = () => undefined;
        const waiting = new Promise<void>((resolve) => (parked = resolve));
        this.parked.set(m, parked);
        const job = (async () => {
          try {
            await this.handle(queue, m);
          } catch (err) {
            if (err !== STOPPED && !this.dead) {
              this.log.error({ err: describeError(err), message_id: m.id }, 'work item failed unexpectedly; it will be redelivered');
              this.emit('problem', err as Error);
            }
          } finally {
            stopHeartbeat();
          }
        })();
        this.inflight.add(job);
        void job.finally(() => this.inflight.delete(job));
        // The item first gets as far as it can (its grant asked for, or a wait begun), then the next receive goes
        // out: an item's own steps come before polling for more (bounded, for an item that is slow to get there).
        const bound = new AbortController();
        await Promise.race([job, waiting, delay(PARK_BOUND_MS, AbortSignal.any([bound.signal, signal]))]);
        bound.abort();
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
    if (this.inHand.has(item.taskId)) {
      // A second copy of an item this runner is working on (a redelivery, a duplicate send). Its node claim is
      // this session's, so nothing else would stop both copies from running the node: this one comes back
      // later, when the first has ended the node (then it is acknowledged as a duplicate) or given it back.
      const later = Math.min(this.o.visibilitySec, 10);
      log.info({ retry_in_s: later }, 'a second copy of a work item already in hand; looking again later');
      this.emit('duplicate', { taskId: item.taskId, node: this.node, reason: 'a copy is already in hand' });
      await this.o.queue.changeVisibility(queue, m.receiptHandle, later);
      return;
    }
    this.inHand.add(item.taskId);
    // One read of the task record, with a watch that keeps it current for as long as this item is handled.
    const follower = new TaskFollower(store, item.taskId);
    try {
      await this.handleTask(queue, m, item, follower, log);
    } finally {
      follower.stop();
      this.inHand.delete(item.taskId);
    }
  }

  private async handleTask(queue: string, m: QueueMessage, item: WorkItem, follower: TaskFollower, log: Logger): Promise<void> {
    const { store } = this.o;
    // The task record, the node record and the node's claim go out together: one round trip, not three in a
    // row. ZooKeeper answers a session's requests in the order sent, so the reads still come before the claim.
    const reads = Promise.all([follower.start(), store.getNode(item.taskId, this.node)]);
    const claiming = store.claimNode(item.taskId, this.node).then(
      (claimed) => ({ claimed }),
      (err: unknown) => ({ claimed: false, err }),
    );
    const release = async (): Promise<void> => {
      if ((await claiming).claimed) await store.releaseNode(item.taskId, this.node).catch(() => undefined);
    };
    let task: TaskRecord | undefined;
    let rec: Versioned<NodeRecord> | undefined;
    try {
      [task, rec] = await reads;
    } catch (err) {
      await release();
      throw err;
    }
    const claim = await claiming;
    if (!task) {
      await release();
      await this.deadLetter(queue, m, new TaskermanError('NOT_FOUND', `task ${item.taskId} has no record in ZooKeeper (expired, or never routed)`, { retryable: false }), item);
      return;
    }
    if (rec) this.known.set(item.taskId, rec);
    else this.known.delete(item.taskId);
    if (!rec) {
      // (The claim failed: a node's claim lives under its record.)
      await this.deadLetter(queue, m, new TaskermanError('NOT_FOUND', `node ${this.node} is not a target of task ${item.taskId}`, { retryable: false }), item);
      return;
    }
    if (TERMINAL_NODE_STATES.includes(rec.value.state)) {
      await release();
      log.info({ state: rec.value.state }, 'duplicate work item: node already done');
      this.emit('duplicate', { taskId: item.taskId, node: this.node, reason: `already ${rec.value.state}` });
      // The copy of a runner that died between the node's end and settling its task (it acks after): settled here.
      await store.settleIfDone(item.taskId, this.node);
      await this.ack(queue, m);
      return;
    }
    if ('err' in claim) throw claim.err;
    if (!claim.claimed) {
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
      this.known.delete(item.taskId);
      if (!this.dead) await store.releaseNode(item.taskId, this.node).catch(() => undefined);
    }
  }

  private async setNode(item: WorkItem, fn: (r: NodeRecord) => NodeRecord | undefined, taskGuard?: TaskGuard, extra?: TxOp[]): Promise<NodeRecord | undefined> {
    this.guard();
    const v = await this.o.store.updateNodeVersioned(item.taskId, this.node, fn, this.known.get(item.taskId), taskGuard, extra);
    if (v) this.known.set(item.taskId, v);
    else this.known.delete(item.taskId);
    const r = v?.value;
    if (r) this.emit('node', { taskId: item.taskId, node: this.node, state: r.state, attempt: r.attempts, ...(r.error ? { error: r.error } : {}) });
    return r;
  }

  private now(): string {
    return isoNow(this.o.clock);
  }

  /**
   * Ends the node SKIPPED (task halted or cancelled) and acks. A grant given for nothing that ran goes back in
   * the same write; one under which an attempt failed stays, marked dead: that node failed its check.
   */
  private async skip(queue: string, m: QueueMessage, item: WorkItem, task: TaskRecord, grant?: HeldGrant): Promise<void> {
    const reason = task.state === 'cancelled' ? `task cancelled by ${task.cancelled?.by ?? 'someone'}` : `task ${task.state}${task.reason ? `: ${task.reason}` : ''}`;
    const failedUnderGrant = this.knownRec(item)?.state === 'FAILED';
    const release = grant && !failedUnderGrant ? grant : undefined;
    await this.finalWrite(item, (r) => ({ ...r, state: 'SKIPPED', reason, endedAt: this.now() }), release);
    if (grant && failedUnderGrant) {
      // It failed its check: it keeps its grant, and is re-checked like a DEAD node until its post_check passes.
      await this.budget.markDead(this.cluster, this.node, grant.record.token, `last attempt failed, then ${reason}`);
      this.recheckDeadOf(task, item.taskId, grant.record.token);
    }
    // Settled before the ack: a runner that dies in between gets the item again, and settles as a duplicate.
    await this.o.store.settleIfDone(item.taskId, this.node);
    await this.ack(queue, m);
  }

  /**
   * The task ended (halted or cancelled) before this node's work item came back. The node ends SKIPPED. If it
   * still holds this task's grant (its runner died during an attempt: a crash, a reboot), the node may still be
   * disrupted: a cancel gives the grant back, as a cancel during an attempt does; after a halt the action's
   * post_check decides, as for a DEAD node: it passes, and the grant goes back with the record; it fails (or
   * cannot run here), and the grant stays, marked dead, re-checked until it passes or an operator releases it.
   * (An action without a post_check has nothing that could tell: its grant goes back.)
   */
  private async skipEnded(queue: string, m: QueueMessage, item: WorkItem, task: TaskRecord, log: Logger): Promise<void> {
    const grant = await findGrant(this.budget, this.cluster, this.node, item.taskId);
    if (!grant || task.state === 'cancelled') return this.skip(queue, m, item, task, grant);
    const ended = `task ${task.state}${task.reason ? `: ${task.reason}` : ''}`;
    let prepared: { action: AnyAction; args: unknown } | undefined;
    let failure: string | undefined;
    try {
      const { spec, action, args } = this.resolve(task);
      prepared = { action, args };
      const rec = this.knownRec(item);
      const timeout = AbortSignal.timeout(spec.timeoutMs);
      await action.postCheck?.call(
        action,
        this.actionContext({
          taskId: item.taskId,
          args: prepared.args,
          attempt: 0,
          token: grant.record.token,
          grantedAt: grant.record.granted_at,
          signal: AbortSignal.any([this.stopping.signal, timeout]),
          logger: log.child({ check: 'after an interrupted attempt' }),
          history: rec?.history ?? [],
          checkpoint: this.checkpointFor(item),
        }),
      );
    } catch (err) {
      failure = describeError(err);
    }
    const write = (r: NodeRecord, reason: string): NodeRecord => ({ ...r, state: 'SKIPPED', reason, endedAt: this.now(), history: closeInterrupted(r.history, this.now()) });
    try {
      if (failure === undefined) {
        log.info({ token: grant.record.token }, 'task ended while this node held its grant; its post_check passed: grant released');
        await this.finalWrite(item, (r) => write(r, `${ended} (post_check passed after the interrupted attempt; grant released)`), grant);
      } else {
        const reason = `${ended}; the interrupted attempt's post_check failed: ${failure}`;
        log.error({ token: grant.record.token, err: failure }, 'task ended while this node held its grant, and the node fails its post_check: it keeps its grant until a check passes or an operator releases it');
        // Marked dead first: whoever sees the node SKIPPED sees its grant kept as the dead one it is.
        await this.budget.markDead(this.cluster, this.node, grant.record.token, reason);
        await this.setNode(item, (r) => write(r, `${reason} (the node keeps its grant until a check passes or an operator releases it)`));
        if (prepared) this.recheckDead(prepared.action, prepared.args, item.taskId, grant.record.token);
      }
    } finally {
      grant.close();
    }
    // Settled before the ack: a runner that dies in between gets the item again, and settles as a duplicate.
    await this.o.store.settleIfDone(item.taskId, this.node);
    await this.ack(queue, m);
  }

  /**
   * The node's final record, with the grant's release in the same transaction when `grant` is given: a node's
   * recorded end is never written after its grant is gone. A grant released meanwhile by someone else (an
   * operator) does not stop the record from being written.
   */
  private async finalWrite(item: WorkItem, fn: (r: NodeRecord) => NodeRecord | undefined, grant: HeldGrant | undefined): Promise<NodeRecord | undefined> {
    if (!grant) return this.setNode(item, fn);
    try {
      return await this.setNode(item, fn, undefined, [grant.releaseOp()]);
    } catch (err) {
      if (!(err instanceof CoordinatorError && err.path === grant.path && (err.code === 'NO_NODE' || err.code === 'BAD_VERSION'))) throw err;
      this.log.warn({ task_id: item.taskId, err: describeError(err) }, 'grant already released by someone else; recording the end without it');
      return this.setNode(item, fn);
    } finally {
      grant.close();
    }
  }

  private knownRec(item: WorkItem): NodeRecord | undefined {
    return this.known.get(item.taskId)?.value;
  }

  private async runNode(queue: string, m: QueueMessage, item: WorkItem, task: TaskRecord, follower: TaskFollower, log: Logger): Promise<void> {
    if (task.state === 'halted' || task.state === 'cancelled') return this.skipEnded(queue, m, item, task, log);
    const prepared = await this.prepare(queue, m, item, task, log);
    if (!prepared) return;
    const w: NodeWork = { queue, m, item, follower, log, ...prepared, grant: undefined, freshGrant: false };
    try {
      for (;;) {
        const next = await this.admit(w);
        if (next === 'done') return;
        if (next === 'again') continue;
        const attempt = await this.recordStart(w);
        if (attempt === undefined) continue;
        const began = Date.now();
        const outcome = await this.runSteps(w, attempt);
        this.guard();
        const result = outcome.ok ? 'succeeded' : outcome.cancelled ? 'cancelled' : outcome.grantLost ? 'grant_lost' : 'failed';
        this.emit('attempt', { taskId: item.taskId, node: this.node, action: w.spec.action, attempt, result, durationMs: Date.now() - began });
        if ((await this.settleAttempt(w, attempt, outcome)) === 'done') return;
      }
    } finally {
      w.grant?.close();
    }
  }

  /** The task's spec, its action in this runner's registry and the action's arguments (throws if it cannot run here). */
  private resolve(task: TaskRecord): Pick<NodeWork, 'spec' | 'action' | 'args'> {
    // A node list kept out of the record (nodesDigest) was checked by the router; this node is on it.
    const spec = parseTaskSpec(task.nodesDigest === undefined ? task.spec : { ...task.spec, nodes: [this.node] });
    const action = this.o.registry.get(spec.action, spec.version);
    return { spec, action, args: this.o.registry.parseArgs(action, spec.args) };
  }

  /** Parses the task's spec and the action's arguments; a task this runner cannot run ends the node DEAD. */
  private async prepare(queue: string, m: QueueMessage, item: WorkItem, task: TaskRecord, log: Logger): Promise<Pick<NodeWork, 'spec' | 'action' | 'args'> | undefined> {
    try {
      return this.resolve(task);
    } catch (err) {
      log.error({ err: describeError(err) }, 'cannot run this task here');
      await this.setNode(item, (r) => ({ ...r, state: 'DEAD', error: describeError(err), endedAt: this.now() }));
      await this.deadLetter(queue, m, err, item, 0);
      await this.breaker(item, log);
      return undefined;
    }
  }

  /**
   * Everything that must hold before a node starts: the runner is not stopping, the task is still running, not
   * paused, inside its window, and the node holds a grant from its cluster's budget (found after a reboot, or
   * asked for and waited on). Returns 'go' with `w.grant` set, 'again' to look again, or 'done' when the work
   * item has been dealt with.
   */
  private async admit(w: NodeWork): Promise<'go' | 'again' | 'done'> {
    const { item, follower, spec, log } = w;
    if (this.stopping.signal.aborted) {
      // A grant taken for nothing that ran goes back; one held across a failure or a reboot stays with the node.
      const giveBack = w.grant && w.freshGrant && this.knownRec(item)?.state !== 'FAILED' ? w.grant : undefined;
      w.grant = undefined;
      await this.finalWrite(item, (r) => ({ ...r, state: 'QUEUED', reason: 'runner stopped before the node finished; it resumes when the runner is back' }), giveBack);
      await this.giveBack(w.queue, w.m);
      return 'done';
    }
    const current = follower.current;
    if (!current) {
      log.warn('task record removed while the node was pending; dropping the work item');
      await this.ack(w.queue, w.m);
      return 'done';
    }
    if (current.state === 'halted' || current.state === 'cancelled') {
      const g = w.grant;
      w.grant = undefined;
      await this.skip(w.queue, w.m, item, current, g);
      return 'done';
    }
    if (current.paused && !w.grant) {
      // Admission is stopped; a node already holding its grant (retrying, or back from a reboot) goes on.
      await this.setNode(item, (r) => (r.state === 'WAITING' && r.reason?.startsWith('task paused') ? undefined : { ...r, state: 'WAITING', reason: `task paused by ${current.paused?.by ?? 'someone'}` }));
      this.parked.get(w.m)?.();
      await follower.changed(this.stopping.signal);
      return 'again';
    }
    if (!w.grant && spec.window && !isInWindow(spec.window, this.o.clock.now())) {
      const reason = `outside its maintenance window (${describeWindow(spec.window)})`;
      await this.setNode(item, (r) => (r.state === 'WAITING' && r.reason === reason ? undefined : { ...r, state: 'WAITING', reason }));
      this.parked.get(w.m)?.();
      await delay(this.o.windowRecheckMs, AbortSignal.any([this.stopping.signal, follower.ended]));
      return 'again';
    }
    if (w.grant && w.grant.signal.aborted) {
      log.warn({ err: describeError(w.grant.signal.reason) }, 'grant lost (released by someone else); asking again');
      w.grant.close();
      w.grant = undefined;
    }
    if (w.grant) return 'go';
    if (w.action.defer) {
      // The action asks to let other nodes go first (a leader or controller goes last): wait without a grant.
      const reason = await w.action.defer({ taskId: item.taskId, cluster: this.cluster, node: this.node, args: w.args, signal: AbortSignal.any([this.stopping.signal, follower.ended]), logger: log }).catch((err: unknown) => {
        log.warn({ err: describeError(err) }, 'defer check failed; asking for a grant (pre_check still decides)');
        return undefined;
      });
      if (reason) {
        const why = `deferred: ${reason}`;
        await this.setNode(item, (r) => (r.state === 'WAITING' && r.reason === why ? undefined : { ...r, state: 'WAITING', reason: why }));
        this.parked.get(w.m)?.();
        await delay(this.o.deferRecheckMs, AbortSignal.any([this.stopping.signal, follower.ended]));
        return 'again';
      }
    }
    return this.obtainGrant(w, current);
  }

  /** The node's grant: the one it already holds for this task, or a new one from the keeper. */
  private async obtainGrant(w: NodeWork, current: TaskRecord): Promise<'go' | 'again'> {
    const { item, follower, spec, log } = w;
    // The WAITING record and the request go out together (one round trip, not two): the grant is awaited
    // with the record written, so the STARTED write that follows is based on it.
    const failed = new AbortController();
    // A grant this runner learns of after a ZooKeeper blip may have been given before the cluster's health
    // changed (see stillHealthy).
    const epoch = this.sessionEpoch;
    const marking = this.setNode(item, (r) => (r.state === 'WAITING' && r.reason === WAITING_FOR_GRANT ? undefined : { ...r, state: 'WAITING', reason: WAITING_FOR_GRANT })).catch((err: unknown) => {
      failed.abort(err);
      throw err;
    });
    let grant: HeldGrant;
    try {
      grant = await waitForGrant(
        this.budget,
        this.cluster,
        {
          node: this.node,
          zone: this.o.zone,
          kind: 'task',
          task_id: item.taskId,
          limit: current.limit,
          exclusive: spec.exclusive,
          priority: spec.priority,
          requested_at: this.now(),
          by: this.node,
          reason: undefined,
          ttl_ms: undefined,
        },
        { signal: AbortSignal.any([this.stopping.signal, follower.ended, failed.signal]), onQueued: () => this.parked.get(w.m)?.() },
      );
    } catch (err) {
      await marking.catch(() => undefined);
      // The WAITING write failed: the wait was given up (its request withdrawn); the write's error is the one.
      if (failed.signal.aborted) throw failed.signal.reason;
      if (this.stopping.signal.aborted || follower.ended.aborted) return 'again';
      if (err instanceof CoordinatorError || err instanceof SessionLostError) {
        log.warn({ err: describeError(err) }, 'lost ZooKeeper while waiting for a grant; asking again');
        await delay(this.o.retryPauseMs, this.stopping.signal);
        return 'again';
      }
      throw err;
    }
    try {
      await marking;
    } catch (err) {
      // Granted in the same instant the WAITING write failed: nothing ran under the grant, so it goes back.
      if (!grant.resumed) await this.o.store.coordinator.transaction([grant.releaseOp()]).catch(() => undefined);
      grant.close();
      throw err;
    }
    const resumed = grant.resumed;
    w.grant = grant;
    this.verifiedEpoch.set(grant, this.sessionEpoch);
    w.freshGrant = !resumed;
    log.info({ token: grant.record.token, resumed }, resumed ? 'node already holds its grant (granted before this runner started)' : 'grant received');
    // Paused, halted, cancelled or out of its window while we waited: a fresh grant goes back, and we look again.
    if (w.freshGrant && (follower.ended.aborted || follower.current?.paused || (spec.window && !isInWindow(spec.window, this.o.clock.now())))) {
      w.grant = undefined;
      await this.finalWrite(item, (r) => r, grant);
      return 'again';
    }
    if (w.freshGrant && this.sessionEpoch !== epoch && !(await this.stillHealthy(w))) {
      w.grant = undefined;
      await this.finalWrite(item, (r) => r, grant);
      return 'again';
    }
    return 'go';
  }

  /**
   * The keeper runs the cluster's health check before every grant, and a runner starts as soon as it sees its
   * grant. But a runner cut off from ZooKeeper while it waited learns of its grant only when it is back, maybe
   * long after the check passed and after the cluster turned unhealthy (another node crashed meanwhile): the
   * grant is not acted on before the check passes again, here. Failing, the grant goes back and the node asks
   * again (the keeper then holds it until the check passes); a check that cannot run counts as failing.
   */
  private async stillHealthy(w: NodeWork): Promise<boolean> {
    const policy = await this.budget.getPolicy(this.cluster);
    if (!policy?.health) return true;
    const out = await runHealthCheck(this.o.checks, policy.health, this.stopping.signal);
    if (out.ok) return true;
    w.log.warn({ check: policy.health.check, detail: out.detail }, 'grant given back: the cluster turned unhealthy while this runner was cut off from ZooKeeper; asking again');
    return false;
  }

  /**
   * Writes STARTED, guarded on the task being as we last saw it (a transaction check on its control record's
   * version): a cancel, halt, pause or resume that lands after we looked makes the write fail, and the caller
   * looks again. Returns the attempt number, or undefined.
   */
  private async recordStart(w: NodeWork): Promise<number | undefined> {
    const { item, follower, log } = w;
    const grant = w.grant as HeldGrant;
    // The record and the guard are taken together, here: the write below is guarded on this version, so the
    // decision to start is made on this record, not on the one admit() looked at. The follower may have learnt of
    // a change in between (a halt read the moment ZooKeeper came back, in the same answer as this node's grant):
    // a guard that already includes the halt would let the start through.
    const seen = follower.current;
    if (!seen) return undefined;
    const taskGuard: TaskGuard = follower.guard;
    if (seen.state === 'halted' || seen.state === 'cancelled' || (await this.giveBackIfPaused(w, seen))) {
      log.debug({ state: seen.state, paused: Boolean(seen.paused) }, 'task changed just before the node started; looking again');
      return undefined;
    }
    const token = grant.record.token;
    try {
      const started = await this.setNode(
        item,
        (r) => {
          const history = closeInterrupted(r.history, this.now());
          const attempt = r.attempts + 1;
          return { ...r, state: 'STARTED', attempts: attempt, startedAt: this.now(), reason: undefined, history: [...history, { attempt, startedAt: this.now(), fencingToken: token }] };
        },
        taskGuard,
      );
      const attempt = started?.attempts ?? 1;
      log.info({ attempt, fencing_token: token }, 'node started');
      // The task's first start moves it to `running`; it is bookkeeping, so it does not hold up the action.
      if (seen.state === 'routing' || seen.state === 'routed') {
        this.o.store.noteStarted(item.taskId).catch((err: unknown) => log.warn({ err: describeError(err) }, 'could not mark the task running; the router or the next start will'));
      }
      return attempt;
    } catch (err) {
      if (!(err instanceof TaskChangedError)) throw err;
      const now = await follower.refresh();
      log.debug({ state: now?.state, paused: Boolean(now?.paused) }, 'task changed just before the node started; looking again');
      await this.giveBackIfPaused(w, now);
      return undefined;
    }
  }

  /**
   * The task changed before the node started: a grant just taken goes back when the task was paused meanwhile
   * (admission stopped); a node retrying under its grant keeps it. Halted or cancelled: admit() ends the node.
   * True when the grant went back.
   */
  private async giveBackIfPaused(w: NodeWork, now: TaskRecord | undefined): Promise<boolean> {
    const grant = w.grant;
    if (!grant || !now?.paused || !w.freshGrant || this.knownRec(w.item)?.state === 'FAILED') return false;
    w.grant = undefined;
    await this.finalWrite(w.item, (r) => r, grant);
    return true;
  }

  /** After an attempt: success releases the grant with the final record; failure retries (keeping it) or ends DEAD. */
  private async settleAttempt(w: NodeWork, attempt: number, outcome: Outcome): Promise<'done' | 'again'> {
    const { item, log, spec, follower } = w;
    const { store } = this.o;
    const grant = w.grant as HeldGrant;
    if (outcome.ok) {
      w.grant = undefined;
      await this.finalWrite(item, (r) => ({ ...r, state: 'SUCCEEDED', endedAt: this.now(), error: undefined, history: endAttempt(r.history, attempt, this.now()) }), grant);
      log.info({ attempt }, 'node succeeded');
      // Settled before the ack: a runner that dies in between gets the item again, and settles as a duplicate.
      await store.settleIfDone(item.taskId, this.node);
      await this.ack(w.queue, w.m);
      return 'done';
    }
    const error = describeError(outcome.error);
    if (outcome.cancelled) {
      // The operator cancelled the task: the grant goes back with the record, as they asked to stop.
      w.grant = undefined;
      log.warn({ attempt, err: error }, 'task cancelled during the attempt');
      await this.finalWrite(item, (r) => ({ ...r, state: 'SKIPPED', reason: `task cancelled during attempt ${attempt}`, error, endedAt: this.now(), history: endAttempt(r.history, attempt, this.now(), error, false) }), grant);
      // Settled before the ack: a runner that dies in between gets the item again, and settles as a duplicate.
      await store.settleIfDone(item.taskId, this.node);
      await this.ack(w.queue, w.m);
      return 'done';
    }
    if (outcome.grantLost) {
      // Not the node's fault: ask for a grant again without spending an attempt.
      log.warn({ attempt, err: error }, 'grant lost during the attempt; it does not count against the retry budget');
      await this.setNode(item, (r) => ({ ...r, state: 'WAITING', reason: 'grant lost (released by someone else); waiting for a grant again', history: endAttempt(r.history, attempt, this.now(), error, false) }));
      await delay(this.o.retryPauseMs, this.stopping.signal);
      return 'again';
    }
    if (outcome.error instanceof DeferredError) {
      // The pre_check asked to go after others (it became the leader or controller while it waited): nothing was
      // changed and the attempt does not count. The grant goes back so that they can have it, unless an earlier
      // attempt under this grant failed (the node may be disrupted: it keeps its grant and asks again later).
      const token = grant.record.token;
      const failedBefore = (this.knownRec(item)?.history ?? []).some((h) => h.attempt < attempt && h.fencingToken === token && h.error !== undefined && h.counted !== false);
      const why = `deferred: ${outcome.error.message}`;
      log.info({ attempt, reason: outcome.error.message, retry_in_ms: outcome.error.retryAfterMs, keeps_grant: failedBefore }, 'node deferred by its action');
      const write = (r: NodeRecord): NodeRecord => ({ ...r, state: 'WAITING', reason: why, history: endAttempt(r.history, attempt, this.now(), error, false) });
      if (failedBefore) {
        await this.setNode(item, write);
      } else {
        w.grant = undefined;
        await this.finalWrite(item, write, grant);
      }
      await delay(outcome.error.retryAfterMs, AbortSignal.any([this.stopping.signal, follower.ended]));
      return 'again';
    }
    const retryable = !(outcome.error instanceof TaskermanError) || outcome.error.retryable;
    const rec = await this.setNode(item, (r) => ({ ...r, state: 'FAILED', error, endedAt: this.now(), history: endAttempt(r.history, attempt, this.now(), error, true) }));
    const failures = countedFailures(rec?.history ?? []);
    if (retryable && failures <= spec.retry.count) {
      const wait = backoffDelay(failures, { baseMs: spec.retry.backoffMs, maxMs: this.o.maxBackoffMs, random: this.o.random });
      log.warn({ attempt, err: error, retry_in_ms: wait }, 'attempt failed; retrying after backoff, keeping the grant');
      await this.setNode(item, (r) => ({ ...r, reason: `attempt ${attempt} failed; retry ${failures} of ${spec.retry.count} in ${Math.round(wait / 1000)}s` }));
      await delay(wait, AbortSignal.any([this.stopping.signal, grant.signal, follower.ended])).catch(() => undefined);
      return 'again';
    }
    log.error({ attempt, err: error }, 'node failed for good: dead-lettered; it keeps its grant until a check passes or an operator releases it');
    await this.setNode(item, (r) => ({ ...r, state: 'DEAD', reason: retryable ? `retries exhausted (${failures} failed attempts)` : 'not retryable' }));
    await this.budget.markDead(this.cluster, this.node, grant.record.token, `task ${item.taskId}: ${error}`);
    await this.deadLetter(w.queue, w.m, outcome.error, item, attempt);
    await this.breaker(item, log);
    this.recheckDead(w.action, w.args, item.taskId, grant.record.token);
    return 'done';
  }

  /**
   * A DEAD node keeps its grant (it failed its check, so it is unavailable) until a later post_check of its action
   * passes here, or an operator releases it. Re-checks every `deadRecheckMs` while the grant is still that one.
   */
  private recheckDead(action: AnyAction, args: unknown, taskId: string, token: number): void {
    if (!action.postCheck || this.deadCheck) return;
    const log = this.log.child({ task_id: taskId, action: action.name });
    const signal = this.stopping.signal;
    this.deadCheck = (async () => {
      // Yield first, so that the finally below never runs before this assignment.
      await Promise.resolve();
      try {
        while (!signal.aborted) {
          await delay(this.o.deadRecheckMs, signal);
          const g = await this.budget.getGrant(this.cluster, this.node);
          if (!g || g.value.token !== token || !g.value.dead) return;
          // The same context as an attempt's, on the node record as it stands (attempt 0: a re-check, not an attempt).
          const rec = (await this.o.store.getNode(taskId, this.node))?.value;
          const ctx = this.actionContext({
            taskId,
            args,
            attempt: 0,
            token,
            grantedAt: g.value.granted_at,
            signal,
            logger: log,
            history: rec?.history ?? [],
            checkpoint: {
              get: <T>(key: string): T | undefined => rec?.checkpoint?.[key] as T | undefined,
              set: async (key: string, value: unknown) => {
                await this.o.store.updateNode(taskId, this.node, (r) => ({ ...r, checkpoint: { ...r.checkpoint, [key]: value } }));
              },
            },
          });
          try {
            await action.postCheck?.call(action, ctx);
          } catch (err) {
            log.debug({ err: describeError(err) }, 'DEAD node still fails its post_check; it keeps its grant');
            continue;
          }
          const r = await this.budget.releaseGrant(this.cluster, this.node, { by: this.node, reason: `post_check of ${action.name} passed on re-check after the node was DEAD`, kind: 'released', token });
          if (r) log.info('DEAD node passed its post_check again: grant released');
          return;
        }
      } catch (err) {
        if (!signal.aborted) this.emit('problem', err as Error);
      } finally {
        this.deadCheck = undefined;
      }
    })();
  }

  /** At start: a grant left DEAD by an earlier run of this node goes on being re-checked. */
  private async resumeDeadCheck(): Promise<void> {
    const g = await this.budget.getGrant(this.cluster, this.node);
    if (!g?.value.dead || !g.value.task_id) return;
    const t = await this.o.store.getTask(g.value.task_id);
    if (t) this.recheckDeadOf(t.value, g.value.task_id, g.value.token);
  }

  /** recheckDead with the action of the task's spec. */
  private recheckDeadOf(task: TaskRecord, taskId: string, token: number): void {
    try {
      const { action, args } = this.resolve(task);
      this.recheckDead(action, args, taskId, token);
    } catch {
      // This runner cannot run that task's action: the grant waits for an operator.
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

  /** What an action's steps see: one shape for an attempt and for a DEAD node's re-check. */
  private actionContext(o: { taskId: string; args: unknown; attempt: number; token: number; grantedAt: string; signal: AbortSignal; logger: Logger; history: AttemptRecord[]; checkpoint: ActionCheckpoint }): ActionContext<unknown> {
    return {
      taskId: o.taskId,
      cluster: this.cluster,
      node: this.node,
      args: o.args,
      attempt: o.attempt,
      fencingToken: o.token,
      signal: o.signal,
      logger: o.logger,
      heartbeat: () => undefined,
      history: o.history.map(toAttemptInfo),
      grant: { token: o.token, grantedAt: o.grantedAt, taskId: o.taskId },
      checkpoint: o.checkpoint,
    };
  }

  /** The action's checkpoint: read from the node record as last written, written through it (CAS). */
  private checkpointFor(item: WorkItem): ActionCheckpoint {
    return {
      get: <T>(key: string): T | undefined => this.knownRec(item)?.checkpoint?.[key] as T | undefined,
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

  private async runSteps(w: NodeWork, attempt: number): Promise<Outcome> {
    const { action, args, item, spec, follower, log } = w;
    const grant = w.grant as HeldGrant;
    const cancelled = follower.cancelled;
    const timeout = new AbortController();
    const timeoutMs = spec.timeoutMs;
    const timer = setTimeout(() => timeout.abort(new TimeoutError(`timed out after ${Math.round(timeoutMs / 1000)}s`)), timeoutMs);
    const signal = AbortSignal.any([timeout.signal, grant.signal, this.hard.signal, cancelled]);
    const ctx = this.actionContext({
      taskId: item.taskId,
      args,
      attempt,
      token: grant.record.token,
      grantedAt: grant.record.granted_at,
      signal,
      logger: log.child({ attempt }),
      history: (this.knownRec(item)?.history ?? []).filter((h) => h.attempt < attempt),
      checkpoint: this.checkpointFor(item),
    });
    const steps: Array<[string, ((c: ActionContext<unknown>) => Promise<void>) | undefined]> = [
      ['pre_check', action.preCheck],
      ['execute', action.execute],
      ['post_check', action.postCheck],
    ];
    try {
      for (const [name, step] of steps) {
        if (!step) continue;
        // Never start a step while ZooKeeper is unreachable (Curator TN14: suspended = start nothing new), nor
        // under a grant that is no longer ours, nor after a timeout or a hard stop.
        await this.readyForStep(grant, signal);
        try {
          await step.call(action, ctx);
        } catch (err) {
          // Deferring hands the grant on: only before anything changed, never from execute or post_check.
          if (err instanceof DeferredError && name !== 'pre_check') throw new TaskermanError('ACTION_FAILED', `${name} cannot defer (only pre_check can): ${err.message}`, { cause: err });
          throw signal.aborted ? signal.reason : err instanceof TaskermanError ? err : new TaskermanError('ACTION_FAILED', `${name}: ${describeError(err)}`, { cause: err });
        }
      }
      if (signal.aborted) throw signal.reason;
      return { ok: true };
    } catch (error) {
      const isCancel = cancelled.aborted && !timeout.signal.aborted && !this.hard.signal.aborted;
      return { ok: false, error, cancelled: isCancel, grantLost: !isCancel && grant.signal.aborted && !timeout.signal.aborted && !this.hard.signal.aborted };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Waits while ZooKeeper is unreachable (suspended, or lost until a new session is up), then checks that the
   * grant is still ours. Bounded by the attempt's own signal (its timeout): an outage is not the node's failure.
   */
  private async readyForStep(grant: HeldGrant, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) throw signal.reason;
      if (grant.signal.aborted) throw grant.signal.reason;
      if (this.suspended) {
        await new Promise<void>((resolve) => {
          const off = this.o.store.coordinator.onSessionState(() => {
            off();
            resolve();
          });
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
        continue;
      }
      // The grant's watch tells of a release; a read is needed only when the session moved since the last look
      // (a watch event could have been in flight across the disconnection).
      if (this.sessionEpoch === this.verifiedEpoch.get(grant)) return;
      try {
        const epoch = this.sessionEpoch;
        if (!(await grant.verify())) throw grant.signal.reason;
        this.verifiedEpoch.set(grant, epoch);
        return;
      } catch (err) {
        if (!isZkUnreachable(err)) throw err;
        await delay(this.o.retryPauseMs / 4, signal).catch(() => undefined);
      }
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
