// Which nodes of its task are not done yet: what an action needs to go last (the Kafka controller, the
// Elasticsearch elected master, the ZooKeeper leader). The node records live under
// <root>/tasks/<task_id>/nodes/ (core/task/task-store.ts); actions get this narrow port through their
// factory (built from BuiltinDeps.taskNodes), so they never hold the store itself.
//
// Going last takes two moves. `Action.defer` asks before the node requests a grant: the leader waits without
// one while others of its task are not done (the common case, no grant churn). But leadership can move to
// this node while it waits for its grant; `goLast` in the preCheck is the backstop: with the grant in hand it
// hands it on (DeferredError) when others have not started, or waits, bounded, for those in flight.
import { DeferredError } from '../core/errors.js';
import { delay } from '../core/delay.js';
import { TERMINAL_NODE_STATES, type NodeRecord } from '../core/task/task.js';
import type { TaskStore } from '../core/task/task-store.js';
import type { ActionContext } from './action.js';

export interface PeerNode {
  node: string;
  state: NodeRecord['state'];
}

export interface TaskPeers {
  /** The task's other target nodes that have not ended (SUCCEEDED, DEAD or SKIPPED), with their states. */
  pending(taskId: string, self: string): Promise<PeerNode[]>;
}

export function taskStorePeers(store: Pick<TaskStore, 'listNodes'>): TaskPeers {
  return {
    async pending(taskId, self) {
      const nodes = await store.listNodes(taskId);
      return nodes.filter((n) => n.node !== self && !TERMINAL_NODE_STATES.includes(n.state)).map((n) => ({ node: n.node, state: n.state }));
    },
  };
}

/** From the runner's `taskNodes` port (every node of a task with its state). */
export function peersFromTaskNodes(taskNodes: (taskId: string) => Promise<Array<{ node: string; state: NodeRecord['state'] }>>): TaskPeers {
  return {
    async pending(taskId, self) {
      return (await taskNodes(taskId)).filter((n) => n.node !== self && !TERMINAL_NODE_STATES.includes(n.state));
    },
  };
}

/** For `Action.defer`: a reason to wait without a grant when other nodes of the task are not done. */
export async function deferReason(peers: TaskPeers, taskId: string, self: string, why: string): Promise<string | undefined> {
  const pending = await peers.pending(taskId, self);
  return pending.length ? `${why}; it goes last, after ${pending.map((p) => `${p.node} (${p.state})`).join(', ')}` : undefined;
}

/** For a runner or a router that has no task store at hand (a plain registry for validation). */
export const noPeers: TaskPeers = { pending: async () => [] };

export interface GoLastOptions {
  /** Why this node goes last, for the record: "broker 3 is the active controller". */
  why: string;
  /** While the others are all in flight (they hold their own grants), look again this often, ms. */
  pollMs: number;
  /** Wait at most this long for nodes in flight before deferring, ms. */
  maxWaitMs: number;
  /** When deferring, ask for a grant again after this long, ms. */
  retryAfterMs: number;
}

/**
 * Call from a preCheck only (nothing has changed yet). Returns when no other node of the task is left.
 * Nodes that have not started yet (QUEUED, WAITING) may need this node's grant, so it defers (DeferredError:
 * the runner hands the grant on and asks again behind them). Nodes in flight (STARTED, FAILED and retrying)
 * hold their own grants, so it waits for them here, bounded, then defers.
 */
export async function goLast(ctx: ActionContext<unknown>, peers: TaskPeers, o: GoLastOptions): Promise<void> {
  const deadline = Date.now() + o.maxWaitMs;
  for (;;) {
    const pending = await peers.pending(ctx.taskId, ctx.node);
    if (pending.length === 0) return;
    const list = pending.map((p) => `${p.node} (${p.state})`).join(', ');
    const notStarted = pending.filter((p) => p.state === 'QUEUED' || p.state === 'WAITING');
    if (notStarted.length > 0) throw new DeferredError(`${o.why}; it goes last, after ${list}`, o.retryAfterMs);
    if (Date.now() >= deadline) throw new DeferredError(`${o.why}; still waiting for ${list}`, o.retryAfterMs);
    ctx.logger.info({ pending: list }, `${o.why}: waiting for the other nodes of the task in flight`);
    await delay(Math.min(o.pollMs, Math.max(1, deadline - Date.now())), ctx.signal);
    if (ctx.signal.aborted) throw ctx.signal.reason;
  }
}
