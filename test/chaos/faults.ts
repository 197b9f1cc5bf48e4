// The faults a chaos round can inject, and the plan of one round: which faults, when, and on what, all
// drawn up front from the round's seeded PRNG so that a seed names a run.
import type { Rng } from './prng.js';

export const FAULT_KINDS = ['kill-runner', 'kill-router', 'zk-restart', 'dup-message', 'fail-nodes', 'cancel', 'second-task', 'reboot', 'health-flap'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export function isFaultKind(s: string): s is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(s);
}

export interface FaultPlan {
  kinds: FaultKind[];
  /** kill-runner: wait this long after submitting, then kill a runner that is inside execute. */
  killRunnerAfterMs: number;
  /** kill-runner: which of the runners inside execute (a fraction of their number). */
  killRunnerPick: number;
  /** kill-runner: start the node's runner again this long after the kill. */
  restartRunnerAfterMs: number;
  /** kill-router: kill the router once this many work items of its fan-out are out. */
  killRouterAfterSends: number;
  /** zk-restart: this long after submitting (then waits, bounded, for a node to be inside execute). */
  zkRestartAfterMs: number;
  /** dup-message: send the task's global message a second time this long after the first. */
  duplicateAfterMs: number;
  /** cancel: this long after submitting. */
  cancelAfterMs: number;
  /** fail-nodes: the nodes whose execute always fails (retry count 1, so each is DEAD after 2 attempts). */
  failNodes: string[];
  /** max_failures of the task: 1 halts at the first DEAD node, more than the failing nodes never halts. */
  maxFailures: number;
  /** second-task: another task on the same cluster (every node, same limit) this long after the first. */
  secondTaskAfterMs: number;
  /** reboot: this long after submitting, kill a runner inside execute and bring it back only after `rebootDownMs`. */
  rebootAfterMs: number;
  rebootDownMs: number;
  /** health-flap: the health check fails from this moment for `healthDownMs`, twice. */
  healthFlapAfterMs: number;
  healthDownMs: number;
}

export function planFaults(rng: Rng, nodes: string[], forced?: FaultKind[]): FaultPlan {
  // Every draw happens whatever the kinds, so that forcing kinds does not shift the other draws.
  const sampled = rng.sample(FAULT_KINDS, rng.int(1, 3));
  const plan: FaultPlan = {
    kinds: forced ? [...new Set(forced)] : sampled,
    killRunnerAfterMs: rng.int(0, 3000),
    killRunnerPick: rng.next(),
    restartRunnerAfterMs: rng.int(0, 2000),
    killRouterAfterSends: rng.int(1, Math.max(1, nodes.length - 1)),
    zkRestartAfterMs: rng.int(300, 3500),
    duplicateAfterMs: rng.next() < 0.5 ? 0 : rng.int(0, 3000),
    cancelAfterMs: rng.int(500, 4500),
    failNodes: rng.sample(nodes, rng.int(1, 2)),
    maxFailures: rng.pick([1, 2, 3]),
    secondTaskAfterMs: rng.int(0, 2000),
    rebootAfterMs: rng.int(0, 3000),
    rebootDownMs: rng.int(2000, 4000),
    healthFlapAfterMs: rng.int(200, 2500),
    healthDownMs: rng.int(800, 2000),
  };
  if (!plan.kinds.includes('fail-nodes')) {
    plan.failNodes = [];
    plan.maxFailures = 1;
  }
  return plan;
}

/** What happened to one planned fault. */
export interface FaultRecord {
  kind: FaultKind;
  /** False when the moment never came (the rollout ended first): it is reported, not counted. */
  fired: boolean;
  /** ms since the task was submitted. */
  atMs: number;
  detail: string;
}
