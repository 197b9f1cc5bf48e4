// A whole Taskerman in one test process: routers and runners, each with its own queue client and its own
// coordinator session (as separate processes would have), on whichever backends the test gives.
import { builtinRegistry } from '../../actions/builtin.js';
import type { AnyAction } from '../../actions/action.js';
import type { ActionRegistry } from '../../actions/registry.js';
import type { Clock } from '../../core/clock.js';
import { isZkUnreachable, type Coordinator } from '../../core/coordination/coordinator.js';
import { ExplicitDiscovery, MembersDiscovery, StaticDiscovery } from '../../core/discovery/discovery.js';
import { emitTask } from '../../core/task/emit.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { Membership } from '../../core/coordination/membership.js';
import { queueNames, type QueueNames } from '../../core/queue/queue-names.js';
import { FINAL_TASK_STATES, type NodeRecord, type TaskRecord } from '../../core/task/task.js';
import { parseTaskSpec, type TaskSpecInput } from '../../core/task/task-spec.js';
import { TaskStore } from '../../core/task/task-store.js';
import { TaskWatch } from '../../core/task/task-watch.js';
import type { WorkQueue } from '../../core/queue/work-queue.js';
import { MemoryWorkQueue, type MemoryQueueStore } from '../../core/queue/memory-work-queue.js';
import { Router } from '../../router/router.js';
import { Runner } from '../../runner/runner.js';
import type { RunnerOptions } from '../../runner/runner-options.js';

export interface Backend {
  /** A new queue client (one per simulated process). */
  queue(): WorkQueue;
  /** A new coordinator session (one per simulated process). */
  session(): Promise<Coordinator>;
  /** Removes the test's namespace and closes what the backend opened. */
  cleanup(): Promise<void>;
}

/** The in-memory backend: a queue client on `queues` and a session of `zk` per simulated process; nothing to clean. */
export function memoryBackend(zk: { session(): Coordinator }, queues: MemoryQueueStore): Backend {
  return { queue: () => new MemoryWorkQueue({ store: queues }), session: async () => zk.session(), cleanup: async () => undefined };
}

export interface HarnessOptions {
  backend: Backend;
  cluster: string;
  nodes: string[];
  routers?: number;
  zkRoot: string;
  queuePrefix: string;
  actions?: AnyAction[];
  /** Each process's registry (a runner's is built for its node); default: the built-ins plus `actions`. */
  registry?: (who: 'router' | `runner:${string}`) => ActionRegistry;
  logger?: Logger;
  /** Runner message visibility (s): short, so that a killed runner's message comes back quickly. */
  visibilitySec?: number;
  waitSec?: number;
  /** The runners' clock (maintenance windows, timestamps) and how often they look at a closed window. */
  clock?: Clock;
  windowRecheckMs?: number;
  /** Extra options per runner (zone, health checks, keeper tick). */
  runnerOptions?: (node: string) => Partial<RunnerOptions>;
  /** Wraps a simulated process's coordinator session (to interleave its calls with a test's steps). */
  wrapSession?: (c: Coordinator, who: 'store' | 'router' | `runner:${string}`) => Coordinator;
  /** Wraps a simulated process's queue client (to count its calls). */
  wrapQueue?: (q: WorkQueue, who: 'store' | 'router' | `runner:${string}`) => WorkQueue;
}

export class Harness {
  readonly names: QueueNames;
  routers: Router[] = [];
  runners = new Map<string, Runner>();
  store!: TaskStore;
  queue!: WorkQueue;
  private readonly clients: WorkQueue[] = [];
  private readonly sessions: Coordinator[] = [];

  constructor(readonly o: HarnessOptions) {
    this.names = queueNames(o.queuePrefix);
  }

  private client(who: 'store' | 'router' | `runner:${string}` = 'store'): WorkQueue {
    const q = this.o.backend.queue();
    this.clients.push(q);
    return this.o.wrapQueue ? this.o.wrapQueue(q, who) : q;
  }

  private async session(who: 'store' | 'router' | `runner:${string}`): Promise<Coordinator> {
    const c = await this.o.backend.session();
    this.sessions.push(c);
    return this.o.wrapSession ? this.o.wrapSession(c, who) : c;
  }

  registry(who: 'router' | `runner:${string}` = 'router'): ActionRegistry {
    return this.o.registry ? this.o.registry(who) : builtinRegistry({ extra: this.o.actions ?? [] });
  }

  async newRouter(): Promise<Router> {
    const store = new TaskStore(await this.session('router'), this.o.zkRoot);
    const router = new Router({
      queue: this.client('router'),
      store,
      names: this.names,
      registry: this.registry(),
      discovery: {
        explicit: new ExplicitDiscovery(),
        static: new StaticDiscovery(process.cwd()),
        members: new MembersDiscovery(new Membership(store.coordinator, store.paths)),
      },
      logger: this.o.logger ?? silentLogger,
      waitSec: this.o.waitSec ?? 1,
      busyRetrySec: 1,
      workVisibilitySec: this.o.visibilitySec ?? 5,
    });
    this.routers.push(router);
    return router;
  }

  async newRunner(node: string): Promise<Runner> {
    const runner = new Runner({
      cluster: this.o.cluster,
      node,
      queue: this.client(`runner:${node}`),
      store: new TaskStore(await this.session(`runner:${node}`), this.o.zkRoot),
      names: this.names,
      registry: this.registry(`runner:${node}`),
      logger: this.o.logger ?? silentLogger,
      visibilitySec: this.o.visibilitySec ?? 5,
      waitSec: this.o.waitSec ?? 1,
      retryPauseMs: 100,
      ...(this.o.clock ? { clock: this.o.clock } : {}),
      ...(this.o.windowRecheckMs ? { windowRecheckMs: this.o.windowRecheckMs } : {}),
      keeperTickMs: 500,
      ...this.o.runnerOptions?.(node),
    });
    this.runners.set(node, runner);
    return runner;
  }

  async start(): Promise<void> {
    this.store = new TaskStore(await this.session('store'), this.o.zkRoot);
    this.queue = this.client();
    await this.store.init();
    for (let i = 0; i < (this.o.routers ?? 1); i++) await (await this.newRouter()).start();
    await Promise.all(this.o.nodes.map(async (n) => (await this.newRunner(n)).start()));
  }

  spec(overrides: Partial<TaskSpecInput> = {}) {
    return parseTaskSpec({ name: 'test-rollout', action: 'probe', cluster: this.o.cluster, nodes: this.o.nodes, limit: 2, args: {}, ...overrides });
  }

  async submit(overrides: Partial<TaskSpecInput> = {}): Promise<string> {
    const t = await emitTask(this.queue, this.names, this.spec(overrides), { kind: 'cli', user: 'test' });
    return t.taskId;
  }

  /** Waits (on watches, bounded) until the task reaches a final state; fails the test past the bound. */
  async waitFinal(taskId: string, timeoutMs = 60_000): Promise<{ task: TaskRecord; nodes: NodeRecord[] }> {
    let task: TaskRecord | undefined;
    const nodes = await this.waitFor(taskId, 'a final state', (_ns, t) => ((task = t), t !== undefined && FINAL_TASK_STATES.includes(t.state)), timeoutMs);
    return { task: task as TaskRecord, nodes };
  }

  /** Waits for a condition on the task's records, woken by watches, bounded. */
  async waitFor(taskId: string, what: string, pred: (nodes: NodeRecord[], task: TaskRecord | undefined) => boolean, timeoutMs = 30_000): Promise<NodeRecord[]> {
    const deadline = Date.now() + timeoutMs;
    const watch = new TaskWatch(this.store, taskId);
    try {
      for (;;) {
        let t: Awaited<ReturnType<TaskStore['getTask']>>;
        let nodes: NodeRecord[];
        try {
          await watch.start();
          t = await this.store.getTask(taskId);
          nodes = t ? await this.store.listNodes(taskId) : [];
        } catch (err) {
          // This session may still be reconnecting after a ZooKeeper restart the test made: look again.
          if (!isZkUnreachable(err) || Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        if (pred(nodes, t?.value)) return nodes;
        if (Date.now() > deadline) throw new Error(`task ${taskId}: timed out waiting for ${what}: ${t?.value.state ?? 'no record'}; ${nodes.map((n) => `${n.node}=${n.state}`).join(' ')}`);
        await watch.next(Math.min(500, Math.max(1, deadline - Date.now())));
      }
    } finally {
      watch.stop();
    }
  }

  /** Total messages left in every queue of this test (visible, in flight or delayed). */
  async leftInQueues(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const name of await this.queue.list(this.o.queuePrefix)) {
      const s = await this.queue.stats(name);
      const n = s.visible + s.inFlight + s.delayed;
      if (n > 0) out[name] = n;
    }
    return out;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.runners.values()].map((r) => r.stop()));
    await Promise.allSettled(this.routers.map((r) => r.stop()));
    await Promise.allSettled(this.clients.map((c) => c.close()));
    await Promise.allSettled(this.sessions.map((s) => s.close()));
    await this.o.backend.cleanup();
  }
}
