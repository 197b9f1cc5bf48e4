// The router: consumes the global queue, validates each task, resolves its targets, records it in
// ZooKeeper, and fans out one work item per node. Stateless: any number may run.
//
// Fan-out happens once per task (invariant 4) however many routers see the message and however often it
// is redelivered: the task record is created in one transaction (create-if-absent), an ephemeral `fanout`
// marker says a live router is sending, and the state moves to `routed` only when every work item is out.
// A redelivery finds the task `routed` and is just deleted; one that finds it `routing` with no live
// marker (the router died mid-way) resends only to nodes still QUEUED, and the runners drop duplicates.
// A task too big for one ZooKeeper request is created `recording` with the marker in the same transaction,
// its node records are added in batches, and only then does it move to `routing`; a router that finds it
// `recording` with no live marker finishes the recording (no work item was sent yet). A task that can
// never be recorded (task-bounds.ts) is dead-lettered at once with its reason.
// The global message is deleted last, so a crash at any point leaves it to be redelivered.
import { EventEmitter } from 'node:events';
import { sendToDeadLetter } from '../core/queue/dead-letter.js';
import { delay } from '../core/delay.js';
import { resolveTargets } from '../core/discovery/discovery.js';
import { describeError, errorCode, MessageError, TaskermanError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { mapLimit } from '../core/pool.js';
import { parseTaskMessage, encodeWorkMessage, type Task, type TaskRecord } from '../core/task/task.js';
import { checkTaskBounds, TaskTooLargeError } from '../core/task/task-bounds.js';
import { digestOf, TargetsLostError } from '../core/task/task-store.js';
import { liveNodeNames } from '../core/coordination/membership.js';
import { retryWhileUnreachable } from '../core/coordination/retry-unreachable.js';
import { resolveLimit, specToWire, type TaskSpec } from '../core/task/task-spec.js';
import { BudgetStore } from '../core/budget/budget-store.js';
import type { QueueMessage } from '../core/queue/work-queue.js';
import { compileRouterOptions, type CompiledRouterOptions, type RouterOptions } from './router-options.js';

const NO_RUNNER_YET = 'no live runner registered for this node yet';

export interface RouterEvents {
  routed: [{ taskId: string; nodes: number }];
  duplicate: [{ taskId: string; state: string }];
  rejected: [{ taskId?: string; reason: string; messageId: string }];
  /** A failure the daemon survived (logged too); not 'error', which would crash a process with no listener. */
  problem: [Error];
}

export class Router extends EventEmitter<RouterEvents> {
  private readonly o: CompiledRouterOptions;
  private readonly log: Logger;
  private readonly ac = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly ensured = new Set<string>();
  private readonly budget: BudgetStore;

  constructor(opts: RouterOptions) {
    super();
    this.o = compileRouterOptions(opts);
    this.log = opts.logger.child({ component: 'router' });
    this.budget = new BudgetStore(this.o.store.coordinator, this.o.store.paths);
  }

  async start(): Promise<void> {
    const { queue, names, store } = this.o;
    await retryWhileUnreachable('create folders', () => store.init(), { log: this.log, signal: this.ac.signal });
    await queue.ensureQueue({ name: names.global, deadLetter: names.globalDlq, maxReceiveCount: this.o.maxReceiveCount, visibilityTimeoutSec: this.o.visibilitySec });
    this.loop = this.run();
    this.log.info({ queue: names.global }, 'router started');
  }

  /** Stops receiving, finishes the messages in hand, returns. */
  async stop(): Promise<void> {
    this.ac.abort();
    await this.loop;
    this.log.info('router stopped');
  }

  private async run(): Promise<void> {
    const { queue, names } = this.o;
    const signal = this.ac.signal;
    let idleBackoff = 100;
    while (!signal.aborted) {
      let msgs: QueueMessage[];
      try {
        msgs = await queue.receive(names.global, { max: Math.min(10, this.o.concurrency), waitSec: this.o.waitSec, visibilitySec: this.o.visibilitySec, signal });
        idleBackoff = 100;
      } catch (err) {
        this.log.error({ err: describeError(err) }, 'cannot receive from the global queue');
        this.emit('problem', err as Error);
        await delay(idleBackoff, signal);
        idleBackoff = Math.min(idleBackoff * 2, 10_000);
        continue;
      }
      await Promise.all(msgs.map((m) => this.handle(m)));
    }
  }

  /** Routes one message; never throws (a failure leaves the message to be redelivered). */
  async handle(msg: QueueMessage): Promise<void> {
    try {
      await this.route(msg);
    } catch (err) {
      this.log.error({ err: describeError(err), message_id: msg.id }, 'routing failed; the message will be redelivered');
      this.emit('problem', err as Error);
    }
  }

  /** A whole-cluster resolution (EC2 tags, static inventory) is kept for the budget janitor (nodes that leave). */
  private async noteInventory(spec: TaskSpec, targets: string[]): Promise<void> {
    if (spec.discovery !== 'aws_tags' && spec.discovery !== 'static') return;
    await this.budget.recordInventory(spec.cluster, { discovery: spec.discovery, inventory: spec.inventory, nodes: [...targets].sort(), at: new Date().toISOString() });
  }

  private async route(msg: QueueMessage): Promise<void> {
    const { queue, names, store, registry } = this.o;
    let task: Task;
    try {
      task = parseTaskMessage(msg.body);
    } catch (err) {
      if (!(err instanceof MessageError)) throw err;
      await this.reject(msg, err);
      return;
    }
    const log = this.log.child({ task_id: task.taskId, cluster: task.spec.cluster, action: task.spec.action });

    const existing = await store.getTask(task.taskId);
    if (existing && !sameTask(existing.value, task)) {
      // Not a redelivery: another task under an id already taken. Dropping it would lose it silently.
      await this.reject(msg, new MessageError(`task id ${task.taskId} is already used by a different task (emitted by ${existing.value.emittedBy.kind}:${existing.value.emittedBy.user} at ${existing.value.emittedAt})`), task.taskId);
      return;
    }
    if (existing && existing.value.state !== 'routing' && existing.value.state !== 'recording') {
      log.info({ state: existing.value.state }, 'duplicate task message: already routed');
      this.emit('duplicate', { taskId: task.taskId, state: existing.value.state });
      await queue.delete(names.global, msg.receiptHandle);
      return;
    }

    let targets: string[] = [];
    let notes: Map<string, string> | undefined;
    // Created by this call: no work item of it was ever sent, so every node is QUEUED.
    let fresh = false;
    if (!existing) {
      try {
        const action = registry.get(task.spec.action, task.spec.version);
        registry.parseArgs(action, task.spec.args);
        targets = await resolveTargets(task.spec, this.o.discovery);
        checkTaskBounds(JSON.stringify(specToWire(task.spec)), targets);
        await this.noteInventory(task.spec, targets);
      } catch (err) {
        if (!(err instanceof TaskermanError) || err.retryable) throw err;
        // Recorded as failed, so `status` tells why; a spec too big to record at all is only dead-lettered.
        await store.createTask({ task, targets: [], limit: 0, maxFailures: 0, state: 'failed', reason: describeError(err) }).catch((e: unknown) => {
          if (!(e instanceof TaskTooLargeError)) throw e;
        });
        await this.reject(msg, err, task.taskId);
        return;
      }
      const limit = resolveLimit(task.spec.limit, targets.length);
      const maxFailures = resolveLimit(task.spec.maxFailures, targets.length);
      notes = await this.missingRunnerNotes(task.spec.cluster, targets);
      fresh = await store.createTask({ task, targets, limit, maxFailures, state: 'routing', notes });
      if (fresh) log.info({ targets: targets.length, limit, max_failures: maxFailures, emitted_by: task.emittedBy, no_live_runner: notes.size }, 'task recorded');
    }

    if (!(await store.claimFanout(task.taskId))) {
      // Another live router is recording or sending this task right now; look again later.
      log.info('another router is fanning this task out');
      await queue.changeVisibility(names.global, msg.receiptHandle, this.o.busyRetrySec);
      return;
    }
    try {
      let now = await store.getTask(task.taskId);
      if (!now) throw new TaskermanError('NOT_FOUND', `task ${task.taskId} vanished while routing`);
      if (now.value.state === 'recording') {
        // Too big for one request: its node records go in batches (ours), or a router that died did not
        // finish them. Either way no work item was sent yet.
        if (!fresh) {
          try {
            targets = await store.recordingTargets(task.taskId, () => resolveTargets(task.spec, this.o.discovery));
          } catch (err) {
            if (!(err instanceof TargetsLostError)) throw err;
            await store.failRecording(task.taskId, describeError(err));
            await this.reject(msg, err, task.taskId);
            return;
          }
        }
        notes ??= await this.missingRunnerNotes(task.spec.cluster, targets);
        const after = await store.recordNodes(task.taskId, targets, notes);
        log.info({ targets: targets.length, state: after?.state }, 'task recorded in batches');
        fresh = true;
        now = await store.getTask(task.taskId);
        if (!now) throw new TaskermanError('NOT_FOUND', `task ${task.taskId} vanished while routing`);
      }
      if (now.value.state === 'routing') {
        if (targets.length === 0 || !fresh) {
          const saved = await store.getTargets(task.taskId);
          if (!saved) throw new TaskermanError('NOT_FOUND', `task ${task.taskId} has no complete target list`);
          targets = saved;
        }
        const limit = now.value.limit;
        const sent = await this.fanOut(task, targets, fresh, limit);
        await store.markFannedOut(task.taskId);
        if (!fresh) await this.noteMissingRunners(task, targets);
        log.info({ sent, targets: targets.length, limit }, 'task fanned out');
        this.emit('routed', { taskId: task.taskId, nodes: sent });
      }
      await queue.delete(names.global, msg.receiptHandle);
    } finally {
      await store.releaseFanout(task.taskId).catch(() => undefined);
    }
  }

  private async liveNodes(cluster: string): Promise<Set<string>> {
    return new Set(await liveNodeNames(this.o.store.coordinator, this.o.store.paths, cluster));
  }

  /** The note for each target without a live runner, written into its node record as it is created. */
  private async missingRunnerNotes(cluster: string, targets: readonly string[]): Promise<Map<string, string>> {
    const live = await this.liveNodes(cluster);
    const notes = new Map<string, string>();
    for (const t of targets) if (!live.has(t)) notes.set(t, NO_RUNNER_YET);
    if (notes.size > 0) this.log.warn({ cluster, nodes: [...notes.keys()].slice(0, 20), count: notes.size }, 'targets without a live runner');
    return notes;
  }

  /**
   * Sends a work item to each target that is still QUEUED (all of them, unless a router died mid-way). The
   * first wave (as many nodes as the task's limit) goes out first, on its own: those nodes ask for their grants
   * and start while the rest are still being sent, instead of all the sends sharing the router (and the queue
   * service) at once and the first wave's items arriving when most of the fan-out is done. The rest cannot
   * start before a node of the first wave ends anyway.
   */
  private async fanOut(task: Task, targets: string[], fresh: boolean, limit: number): Promise<number> {
    const { queue, names, store } = this.o;
    const cluster = task.spec.cluster;
    const dlq = names.clusterDlq(cluster);
    const base = { deadLetter: dlq, maxReceiveCount: this.o.maxReceiveCount, visibilityTimeoutSec: this.o.workVisibilitySec };
    await this.ensure({ name: names.cluster(cluster), ...base });
    let todo = targets;
    if (!fresh) {
      const pending = await mapLimit(targets, this.o.fanoutConcurrency, async (node) => {
        const rec = await store.getNode(task.taskId, node);
        return rec?.value.state === 'QUEUED' ? node : undefined;
      });
      todo = pending.filter((n): n is string => n !== undefined);
    }
    const send = async (node: string): Promise<void> => {
      const q = names.node(cluster, node);
      await this.ensure({ name: q, ...base });
      // One message per node queue, so a batch holds one entry; SendMessageBatch keeps the call uniform
      // with cluster-queue fan-out of many items.
      await queue.sendBatch(q, [
        {
          body: encodeWorkMessage({ taskId: task.taskId, cluster, node, action: task.spec.action }),
          attributes: { 'taskerman.task_id': task.taskId, 'taskerman.node': node },
        },
      ]);
    };
    const wave = Math.max(1, Math.min(limit, this.o.fanoutConcurrency));
    await mapLimit(todo.slice(0, wave), this.o.fanoutConcurrency, send);
    await mapLimit(todo.slice(wave), this.o.fanoutConcurrency, send);
    return todo.length;
  }

  /**
   * Says on each target without a live runner that it has none (yet); the supervisor acts after a grace
   * period. For a task resumed after its router died: a fresh task has the notes from its creation.
   */
  private async noteMissingRunners(task: Task, targets: string[]): Promise<void> {
    const notes = await this.missingRunnerNotes(task.spec.cluster, targets);
    await mapLimit([...notes.keys()], this.o.fanoutConcurrency, (node) =>
      this.o.store.updateNode(task.taskId, node, (r) => (r.state === 'QUEUED' && !r.reason ? { ...r, reason: NO_RUNNER_YET } : undefined)),
    );
  }

  private async ensure(spec: Parameters<CompiledRouterOptions['queue']['ensureQueue']>[0]): Promise<void> {
    if (this.ensured.has(spec.name)) return;
    await this.o.queue.ensureQueue(spec);
    this.ensured.add(spec.name);
  }

  /** Dead-letters a message that can never be routed, with the reason; the router carries on. */
  private async reject(msg: QueueMessage, err: unknown, taskId?: string): Promise<void> {
    const { queue, names } = this.o;
    const reason = describeError(err);
    this.log.warn({ task_id: taskId, message_id: msg.id, reason }, 'task rejected: sent to the dead-letter queue');
    await sendToDeadLetter(queue, names.globalDlq, msg.body, { reason, code: errorCode(err), source: names.global, taskId });
    await queue.delete(names.global, msg.receiptHandle);
    this.emit('rejected', { taskId, reason, messageId: msg.id });
  }
}


/** A redelivery carries the same spec, emitter and emission time as the recorded task. */
function sameTask(rec: TaskRecord, task: Task): boolean {
  return (
    rec.emittedAt === task.emittedAt &&
    rec.emittedBy.kind === task.emittedBy.kind &&
    rec.emittedBy.user === task.emittedBy.user &&
    sameSpec(rec, specToWire(task.spec))
  );
}

/** The recorded spec is the message's, its explicit node list compared by digest when kept out of the record. */
function sameSpec(rec: TaskRecord, wire: ReturnType<typeof specToWire>): boolean {
  if (rec.nodesDigest === undefined) return JSON.stringify(rec.spec) === JSON.stringify(wire);
  return JSON.stringify(rec.spec) === JSON.stringify({ ...wire, nodes: [] }) && digestOf(wire.nodes ?? []) === rec.nodesDigest;
}
