// The metric catalogue: every metric Taskerman exports, defined once, in one registry per process, with
// Prometheus naming (the `taskerman_` prefix, base units — seconds — `_total` counters). Daemons do not
// call these in their loops: `runner/runner-metrics.ts`, `router/router-metrics.ts` and
// `scheduler/scheduler-metrics.ts` listen to the daemons' events and move them. Labels are kept to bounded
// sets (cluster, action, outcome, error code — never a task id or a free-text reason).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds: an action takes from a second to the better part of an hour (a Cassandra restart with its checks). */
export const ACTION_DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600];
/** Seconds a node waits for a grant: from immediately to hours behind a long rollout. */
export const GRANT_WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 7200];
/** Seconds from a freed grant to the next node's start: the rollout's dead time per wave. */
export const HANDOFF_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds from a fire time to the task on the queue. */
export const FIRE_DELAY_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900];

export interface TaskermanMetrics {
  registry: Registry;
  // runner
  workItems: Counter<'cluster' | 'outcome'>;
  nodeTransitions: Counter<'cluster' | 'state'>;
  actionDuration: Histogram<'action' | 'result'>;
  grantWait: Histogram<'cluster'>;
  handoff: Histogram<'cluster'>;
  retries: Counter<'cluster'>;
  runnerExecuting: Gauge<'cluster'>;
  // dead letters and the breaker (runner, router, supervisor)
  deadLetters: Counter<'component' | 'code'>;
  breakerTrips: Counter<'cluster'>;
  // router
  tasksRouted: Counter;
  workItemsSent: Counter;
  tasksRejected: Counter<'code'>;
  duplicateTasks: Counter;
  /** Tasks by state among those in ZooKeeper (router, from its cached scan). */
  tasks: Gauge<'state'>;
  // the cluster budget (router, from ZooKeeper, cached)
  grantsHeld: Gauge<'cluster'>;
  grantsWaiting: Gauge<'cluster'>;
  grantOldestSeconds: Gauge<'cluster'>;
  budgetNodes: Gauge<'cluster'>;
  healthGateOpen: Gauge<'cluster'>;
  membersLive: Gauge<'cluster'>;
  // queues (router, cached GetQueueAttributes)
  queueMessages: Gauge<'queue' | 'kind' | 'state'>;
  queueDepthRefreshes: Counter<'result'>;
  // backends
  zkSessionState: Gauge<'state'>;
  zkSessionEvents: Counter<'state'>;
  sqsRequests: Counter<'operation'>;
  sqsErrors: Counter<'operation' | 'code'>;
  // scheduler
  schedulerLeader: Gauge;
  schedulerFires: Counter<'spec' | 'reason'>;
  schedulerFireDelay: Histogram;
  schedulerMissed: Counter<'spec'>;
  schedulerDuplicates: Counter;
  schedulerSpecs: Gauge;
  // every daemon
  problems: Counter<'component'>;
  notifications: Counter<'kind' | 'result'>;
  buildInfo: Gauge<'version' | 'component'>;
}

export interface MetricsOptions {
  /** Also export Node's process metrics (process_*, nodejs_*). Default true. */
  processMetrics?: boolean;
  version?: string;
  component?: string;
}

export const ZK_SESSION_STATES = ['connected', 'suspended', 'reconnected', 'lost'] as const;

export function createMetrics(opts: MetricsOptions = {}): TaskermanMetrics {
  const registry = new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const m: TaskermanMetrics = {
    registry,
    workItems: new Counter({ name: 'taskerman_work_items_total', help: 'Work items a runner finished, by outcome (succeeded, dead, skipped, duplicate, requeued)', labelNames: ['cluster', 'outcome'], registers }),
    nodeTransitions: new Counter({ name: 'taskerman_node_transitions_total', help: 'Node state changes written by runners, by new state', labelNames: ['cluster', 'state'], registers }),
    actionDuration: new Histogram({ name: 'taskerman_action_duration_seconds', help: 'One attempt of an action (pre_check, execute, post_check), by action and result', labelNames: ['action', 'result'], buckets: ACTION_DURATION_BUCKETS, registers }),
    grantWait: new Histogram({ name: 'taskerman_grant_wait_seconds', help: 'Time a node waited for a grant before it started', labelNames: ['cluster'], buckets: GRANT_WAIT_BUCKETS, registers }),
    handoff: new Histogram({ name: 'taskerman_handoff_seconds', help: 'Time from the last node of a task to finish to the next waiting node starting', labelNames: ['cluster'], buckets: HANDOFF_BUCKETS, registers }),
    retries: new Counter({ name: 'taskerman_retries_total', help: 'Attempts started after an earlier attempt of the same node', labelNames: ['cluster'], registers }),
    runnerExecuting: new Gauge({ name: 'taskerman_runner_executing', help: '1 while an attempt of an action runs on this node', labelNames: ['cluster'], registers }),
    deadLetters: new Counter({ name: 'taskerman_dead_letters_total', help: 'Messages this process sent to a dead-letter queue, by error code', labelNames: ['component', 'code'], registers }),
    breakerTrips: new Counter({ name: 'taskerman_breaker_trips_total', help: 'Tasks halted by the circuit breaker (max_failures reached)', labelNames: ['cluster'], registers }),
    tasksRouted: new Counter({ name: 'taskerman_tasks_routed_total', help: 'Tasks fanned out by this router', registers }),
    workItemsSent: new Counter({ name: 'taskerman_work_items_sent_total', help: 'Work items sent to node queues by this router', registers }),
    tasksRejected: new Counter({ name: 'taskerman_tasks_rejected_total', help: 'Task messages refused and dead-lettered by this router, by error code', labelNames: ['code'], registers }),
    duplicateTasks: new Counter({ name: 'taskerman_duplicate_tasks_total', help: 'Task messages dropped as redeliveries of a task already routed', registers }),
    tasks: new Gauge({ name: 'taskerman_tasks', help: 'Tasks recorded in ZooKeeper, by state', labelNames: ['state'], registers }),
    grantsHeld: new Gauge({ name: 'taskerman_grants_held', help: 'Nodes of the cluster holding a grant (disrupted) now', labelNames: ['cluster'], registers }),
    grantsWaiting: new Gauge({ name: 'taskerman_grants_waiting', help: 'Requests waiting for a grant in the cluster', labelNames: ['cluster'], registers }),
    budgetNodes: new Gauge({ name: 'taskerman_budget_nodes', help: "The cluster policy's budget: nodes that may be disrupted at once (absent: no policy)", labelNames: ['cluster'], registers }),
    healthGateOpen: new Gauge({ name: 'taskerman_health_gate_open', help: "The cluster's health gate at its last check: 1 open, 0 closed (absent: no gate)", labelNames: ['cluster'], registers }),
    grantOldestSeconds: new Gauge({ name: 'taskerman_grant_oldest_seconds', help: 'Age of the oldest grant held in the cluster (0 when none)', labelNames: ['cluster'], registers }),
    membersLive: new Gauge({ name: 'taskerman_members_live', help: 'Runners registered live in ZooKeeper for the cluster', labelNames: ['cluster'], registers }),
    queueMessages: new Gauge({ name: 'taskerman_queue_messages', help: 'Messages in the global and dead-letter queues (ApproximateNumberOfMessages*), refreshed periodically', labelNames: ['queue', 'kind', 'state'], registers }),
    queueDepthRefreshes: new Counter({ name: 'taskerman_queue_depth_refreshes_total', help: 'Refreshes of the cached queue depths, by result', labelNames: ['result'], registers }),
    zkSessionState: new Gauge({ name: 'taskerman_zookeeper_session_state', help: '1 for the current ZooKeeper session state (connected, suspended, reconnected, lost)', labelNames: ['state'], registers }),
    zkSessionEvents: new Counter({ name: 'taskerman_zookeeper_session_events_total', help: 'ZooKeeper session state changes', labelNames: ['state'], registers }),
    sqsRequests: new Counter({ name: 'taskerman_sqs_requests_total', help: 'SQS calls made, by operation', labelNames: ['operation'], registers }),
    sqsErrors: new Counter({ name: 'taskerman_sqs_errors_total', help: 'SQS calls that failed, by operation and AWS error code', labelNames: ['operation', 'code'], registers }),
    schedulerLeader: new Gauge({ name: 'taskerman_scheduler_leader', help: '1 while this scheduler replica leads (fires schedules)', registers }),
    schedulerFires: new Counter({ name: 'taskerman_scheduler_fires_total', help: 'Fire times put on the global queue, by spec and reason (on_time, late, catchup)', labelNames: ['spec', 'reason'], registers }),
    schedulerFireDelay: new Histogram({ name: 'taskerman_scheduler_fire_delay_seconds', help: 'Time from a fire time to its task on the queue', buckets: FIRE_DELAY_BUCKETS, registers }),
    schedulerMissed: new Counter({ name: 'taskerman_scheduler_missed_total', help: 'Fire times missed and not fired (catchup: none)', labelNames: ['spec'], registers }),
    schedulerDuplicates: new Counter({ name: 'taskerman_scheduler_duplicate_fires_total', help: 'Fire times already claimed by another replica', registers }),
    schedulerSpecs: new Gauge({ name: 'taskerman_scheduler_specs', help: 'Specs with a schedule loaded by this scheduler', registers }),
    problems: new Counter({ name: 'taskerman_problems_total', help: 'Failures a daemon survived (logged), by component', labelNames: ['component'], registers }),
    notifications: new Counter({ name: 'taskerman_notifications_total', help: 'Notifications, by kind and result (sent, failed, duplicate, dropped)', labelNames: ['kind', 'result'], registers }),
    buildInfo: new Gauge({ name: 'taskerman_build_info', help: 'Always 1; the version and the component in labels', labelNames: ['version', 'component'], registers }),
  };
  m.buildInfo.set({ version: opts.version ?? '0.1.0', component: opts.component ?? 'taskerman' }, 1);
  return m;
}

/** The names of every metric family in a registry (what dashboards and alert rules may reference). */
export async function metricNames(registry: Registry): Promise<Set<string>> {
  const out = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    out.add(m.name);
    // prom-client's types declare a numeric enum; at run time `type` is the exposition format's word.
    const type = String(m.type);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(m.name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) out.add(m.name + s);
  }
  return out;
}
