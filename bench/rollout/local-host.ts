// One host of the rollout benchmark, in this process: any of the SQS-protocol server (fauxqs, counting the
// requests it answers), the router (with its supervisor, as `taskerman router` runs it) and a share of the
// runners, each runner with its own ZooKeeper session and SQS client as separate machines would have. The
// in-process mode is one LocalHost with everything; with --procs each child process (worker.ts) is one.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { builtinRegistry } from '../../actions/builtin.js';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import { ExplicitDiscovery } from '../../core/discovery/discovery.js';
import { silentLogger } from '../../core/logger.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { TaskStore } from '../../core/task/task-store.js';
import { Router } from '../../router/router.js';
import { Supervisor } from '../../router/supervisor.js';
import { Runner } from '../../runner/runner.js';
import { startCountingSqs, type CountingSqs } from '../bench-support.js';
import { CountingCoordinator } from '../counting-coordinator.js';
import { addCounts, keeperDelta, sumKeepers } from './figures.js';
import type { HostReport, KeeperCounts } from './host-report.js';
import { probeAction, wallNow, type ProbeEvent } from './probe.js';

/** Where the benchmark's fleet lives: one cluster, its queues under one prefix, its records under one root. */
export const FLEET = { root: '/bench', prefix: 'bench', cluster: 'bench:cluster' } as const;
export const fleetNames = () => queueNames(FLEET.prefix);
export const SQS_CREDENTIALS = { accessKeyId: 'bench', secretAccessKey: 'bench' };

/** The node names of an N-node fleet, in order. */
export function fleetNodes(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `node-${String(i + 1).padStart(3, '0')}`);
}

/** What one host runs. */
export interface HostPlan {
  label: string;
  /** ZooKeeper connection string. */
  zk: string;
  /** Serve SQS here (the other roles of this host then use it). */
  sqs?: boolean;
  /** The SQS endpoint, when another host serves it. */
  sqsEndpoint?: string;
  router?: boolean;
  /** The nodes whose runners run here. */
  nodes: string[];
}

/** A host, here or in a child process: what the benchmark's driver asks of it. */
export interface RolloutHost {
  readonly label: string;
  /** The SQS endpoint it serves, when it serves SQS. */
  readonly sqsEndpoint: string | undefined;
  /** SQS requests its server answered since the last `measure` (or its start), by action. */
  sqsCounts(): Promise<Record<string, number>>;
  /** Begins a measurement of these tasks: clears the counters, the events and the milestones. */
  measure(taskIds: string[]): Promise<void>;
  collect(): Promise<HostReport>;
  stop(): Promise<void>;
}

export class LocalHost implements RolloutHost {
  private sqs: CountingSqs | undefined;
  private router: Router | undefined;
  private supervisor: Supervisor | undefined;
  private readonly runners: Runner[] = [];
  private readonly sessions: ZkCoordinator[] = [];
  /** The sessions as the router and runners use them: counting what they ask of ZooKeeper. */
  private readonly counted: CountingCoordinator[] = [];
  private readonly queues: SqsWorkQueue[] = [];
  private events: ProbeEvent[] = [];
  private milestones: Record<string, number> = {};
  private measured = new Set<string>();
  private keeperBefore: KeeperCounts[] = [];
  private cpuBefore = process.cpuUsage();
  private loop = monitorEventLoopDelay({ resolution: 10 });
  private endpoint: string | undefined;

  private constructor(private readonly plan: HostPlan) {}

  get label(): string {
    return this.plan.label;
  }
  get sqsEndpoint(): string | undefined {
    return this.sqs?.endpoint;
  }

  /** Starts every role of `plan`; on a failure stops what was started and throws. */
  static async start(plan: HostPlan): Promise<LocalHost> {
    const host = new LocalHost(plan);
    try {
      await host.startRoles();
    } catch (err) {
      await host.stop();
      throw err;
    }
    return host;
  }

  private async session(): Promise<CountingCoordinator> {
    const s = await ZkCoordinator.connect({ connectionString: this.plan.zk, sessionTimeoutMs: 10_000 });
    this.sessions.push(s);
    const counted = new CountingCoordinator(s);
    this.counted.push(counted);
    return counted;
  }

  private queue(): SqsWorkQueue {
    const q = new SqsWorkQueue({ endpoint: this.endpoint, region: 'us-east-1', credentials: SQS_CREDENTIALS });
    this.queues.push(q);
    return q;
  }

  private mark(what: string): void {
    this.milestones[what] ??= wallNow();
  }

  private async startRoles(): Promise<void> {
    const { plan } = this;
    if (plan.sqs) this.sqs = await startCountingSqs();
    this.endpoint = this.sqs?.endpoint ?? plan.sqsEndpoint;
    if (!this.endpoint && (plan.router || plan.nodes.length > 0)) throw new Error(`host ${plan.label}: no SQS endpoint for its router or runners`);
    const registry = builtinRegistry({ extra: [probeAction((e) => void (this.measured.has(e.taskId) && this.events.push(e)))] });
    const names = fleetNames();
    if (plan.router) {
      const store = new TaskStore(await this.session(), FLEET.root);
      const queue = this.queue();
      this.router = new Router({ queue, store, names, registry, discovery: { explicit: new ExplicitDiscovery() }, logger: silentLogger });
      this.router.on('routed', (e) => void (this.measured.has(e.taskId) && this.mark('routed')));
      await this.router.start();
      // As `taskerman router` runs it (production defaults: a 10 min grace, a sweep every 30 s).
      this.supervisor = new Supervisor({ store, queue, names, logger: silentLogger });
      await this.supervisor.start();
    }
    for (let i = 0; i < plan.nodes.length; i += 10) {
      // Start in small groups, as a fleet's runners come up over time rather than in one burst of connections.
      const group = await Promise.all(
        plan.nodes.slice(i, i + 10).map(async (node) => {
          const r = new Runner({ cluster: FLEET.cluster, node, queue: this.queue(), store: new TaskStore(await this.session(), FLEET.root), names, registry, logger: silentLogger });
          r.on('node', (e) => void (this.measured.has(e.taskId) && this.mark(`node ${e.state}`)));
          r.budgetKeeper.on('granted', (e) => void (e.grants.some((g) => g.task_id !== undefined && this.measured.has(g.task_id)) && this.mark('granted')));
          this.runners.push(r);
          return r;
        }),
      );
      await Promise.all(group.map((r) => r.start()));
    }
  }

  async sqsCounts(): Promise<Record<string, number>> {
    return Object.fromEntries(this.sqs?.requests ?? []);
  }

  async measure(taskIds: string[]): Promise<void> {
    this.measured = new Set(taskIds);
    this.events = [];
    this.milestones = {};
    this.sqs?.requests.clear();
    for (const c of this.counted) c.reset();
    this.keeperBefore = this.runners.map((r) => ({ ...r.budgetKeeper.stats }));
    this.cpuBefore = process.cpuUsage();
    this.loop.disable();
    this.loop = monitorEventLoopDelay({ resolution: 10 });
    this.loop.enable();
  }

  async collect(): Promise<HostReport> {
    this.loop.disable();
    const cpu = process.cpuUsage(this.cpuBefore);
    const zero: KeeperCounts = { rounds: 0, reads: 0, writes: 0, grants: 0, conflicts: 0 };
    const ms = (ns: number) => (Number.isFinite(ns) ? ns / 1e6 : NaN);
    const zk = { requests: new Map<string, number>(), byRecord: new Map<string, number>(), failures: new Map<string, number>(), waitMs: new Map<string, number>(), bytesWritten: 0, bytesRead: 0 };
    for (const c of this.counted) {
      zk.bytesWritten += c.bytesWritten;
      zk.bytesRead += c.bytesRead;
      addCounts(zk.requests, Object.fromEntries(c.requests));
      addCounts(zk.byRecord, Object.fromEntries(c.byRecord));
      addCounts(zk.failures, Object.fromEntries(c.failures));
      addCounts(zk.waitMs, Object.fromEntries(c.waitMs));
    }
    return {
      label: this.plan.label,
      pid: process.pid,
      events: this.events,
      milestones: this.milestones,
      sqs: await this.sqsCounts(),
      keeper: sumKeepers(this.runners.map((r, i) => keeperDelta(r.budgetKeeper.stats, this.keeperBefore[i] ?? zero))),
      zk: { requests: Object.fromEntries(zk.requests), byRecord: Object.fromEntries(zk.byRecord), failures: Object.fromEntries(zk.failures), waitMs: Object.fromEntries(zk.waitMs), bytesWritten: zk.bytesWritten, bytesRead: zk.bytesRead },
      leaders: this.runners.filter((r) => r.budgetKeeper.isLeading).length,
      loop: { p50: ms(this.loop.percentile(50)), p99: ms(this.loop.percentile(99)), max: ms(this.loop.max) },
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssMiB: process.memoryUsage.rss() / 2 ** 20,
    };
  }

  /** Stops every role (runners first, the SQS server last); never throws. */
  async stop(): Promise<void> {
    this.loop.disable();
    await Promise.allSettled(this.runners.map((r) => r.stop()));
    await Promise.allSettled([this.router?.stop(), this.supervisor?.stop()]);
    await Promise.allSettled(this.sessions.map((s) => s.close()));
    await Promise.allSettled(this.queues.map((q) => q.close()));
    await this.sqs?.stop().catch(() => undefined);
  }
}
