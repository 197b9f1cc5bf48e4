// What one host of the rollout benchmark (the whole bench in one process, or one child process: the SQS server,
// the router, or a share of the runners) reports after a measured rollout. Plain data: it crosses IPC as JSON.
import type { ProbeEvent } from './probe.js';

/** A budget keeper's counters (core/budget/keeper.ts `stats`). */
export interface KeeperCounts {
  rounds: number;
  reads: number;
  writes: number;
  grants: number;
  conflicts: number;
}

export interface HostReport {
  label: string;
  pid: number;
  /** Probe events of the measured tasks. */
  events: ProbeEvent[];
  /** First time (wall ms) of each milestone of the measured tasks: `routed`, `node WAITING`, `granted` (a keeper granted one of them), `node STARTED`. */
  milestones: Record<string, number>;
  /** SQS requests answered by the server in this host since the measurement began, by action. */
  sqs: Record<string, number>;
  /** Its runners' budget keepers, summed, since the measurement began. */
  keeper: KeeperCounts;
  /** What its router and runners asked of ZooKeeper: requests (by kind, and by kind and record), failures (by kind and code), ms waited by kind, bytes of znode data. */
  zk: { requests: Record<string, number>; byRecord: Record<string, number>; failures: Record<string, number>; waitMs: Record<string, number>; bytesWritten: number; bytesRead: number };
  /** How many of its runners lead their cluster's keeper election now. */
  leaders: number;
  /** Event-loop delay during the measurement, ms. */
  loop: { p50: number; p99: number; max: number };
  /** CPU time (user + system) the process used during the measurement, ms. */
  cpuMs: number;
  /** Resident set size at the end, MiB. */
  rssMiB: number;
}
