// The embedded mode: every component in one process with in-memory backends (a queue store and a
// ZooKeeper-alike) and simulated nodes, each runner with its own coordinator session, exactly as separate
// processes would be. `taskerman dev` runs on it; nothing needs to be installed.
import type { AnyAction } from '../actions/action.js';
import { builtinRegistry } from '../actions/builtin.js';
import { BudgetStore } from '../core/budget/budget-store.js';
import type { HealthChecks } from '../core/budget/health-check.js';
import type { ExecAllowlist } from '../actions/exec.js';
import { simulatedRegistry } from './simulated-actions.js';
import { ExplicitDiscovery, MembersDiscovery, StaticDiscovery } from '../core/discovery/discovery.js';
import type { Logger } from '../core/logger.js';
import { Membership } from '../core/coordination/membership.js';
import { MemoryCoordinatorStore } from '../core/coordination/memory-coordinator.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../core/queue/memory-work-queue.js';
import { queueNames, type QueueNames } from '../core/queue/queue-names.js';
import { TaskStore } from '../core/task/task-store.js';
import { Router } from '../router/router.js';
import { Runner } from '../runner/runner.js';

export interface EmbeddedOptions {
  logger: Logger;
  /** Simulated nodes per cluster. */
  clusters: Record<string, string[]>;
  queuePrefix?: string;
  zkRoot?: string;
  inventoryRoot?: string;
  /** The runners' exec allowlist (a runner config's `exec.commands`). */
  execAllowlist?: ExecAllowlist;
  /** Without an allowlist: simulate `exec` (each node waits this many seconds) instead of refusing every command. */
  /** Without a runner config: every action but noop and sleep is simulated (waits this many seconds). */
  simulateExecSeconds?: number;
  /** Extra actions (tests register probes). */
  actions?: AnyAction[];
  /** Runner message visibility, seconds. */
  visibilitySec?: number;
  /** Each simulated node's zone (node → zone), for a policy's zone_budget. */
  zones?: Record<string, string>;
  /** The health checks every simulated runner has in its config (`checks:`), for a policy's health gate. */
  checks?: HealthChecks;
}

export interface Embedded {
  queue: MemoryWorkQueue;
  store: TaskStore;
  names: QueueNames;
  coordinatorStore: MemoryCoordinatorStore;
  router: Router;
  runners: Runner[];
  /** The cluster budget's records, on the same in-memory coordinator (policies, grants, requests). */
  budget: BudgetStore;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createEmbedded(o: EmbeddedOptions): Embedded {
  const zkRoot = o.zkRoot ?? '/taskerman';
  const names = queueNames(o.queuePrefix ?? 'taskerman');
  const queueStore = new MemoryQueueStore();
  const coordinatorStore = new MemoryCoordinatorStore();
  const clients: MemoryWorkQueue[] = [];
  const client = () => {
    const c = new MemoryWorkQueue({ store: queueStore });
    clients.push(c);
    return c;
  };
  const registry =
    o.simulateExecSeconds !== undefined && !o.execAllowlist
      ? simulatedRegistry(o.simulateExecSeconds, o.actions ?? [])
      : builtinRegistry({ extra: o.actions ?? [], ...(o.execAllowlist ? { execAllowlist: o.execAllowlist } : {}) });

  const routerStore = new TaskStore(coordinatorStore.session(), zkRoot);
  const router = new Router({
    queue: client(),
    store: routerStore,
    names,
    registry,
    discovery: {
      explicit: new ExplicitDiscovery(),
      static: new StaticDiscovery(o.inventoryRoot ?? process.cwd()),
      members: new MembersDiscovery(new Membership(routerStore.coordinator, routerStore.paths)),
    },
    logger: o.logger,
  });
  const runners: Runner[] = [];
  for (const [cluster, nodes] of Object.entries(o.clusters)) {
    for (const node of nodes) {
      runners.push(
        new Runner({
          cluster,
          node,
          queue: client(),
          store: new TaskStore(coordinatorStore.session(), zkRoot),
          names,
          registry,
          logger: o.logger,
          visibilitySec: o.visibilitySec ?? 30,
          retryPauseMs: 200,
          ...(o.zones?.[node] ? { zone: o.zones[node] } : {}),
          checks: o.checks ?? {},
        }),
      );
    }
  }
  const store = new TaskStore(coordinatorStore.session(), zkRoot);
  const queue = client();
  return {
    queue,
    store,
    names,
    coordinatorStore,
    router,
    runners,
    budget: new BudgetStore(store.coordinator, store.paths),
    async start() {
      await store.init();
      await router.start();
      await Promise.all(runners.map((r) => r.start()));
    },
    async stop() {
      await Promise.allSettled(runners.map((r) => r.stop()));
      await router.stop();
      await Promise.allSettled(clients.map((c) => c.close()));
      await coordinatorStore.stop();
    },
  };
}
