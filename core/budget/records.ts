// What the cluster budget keeps in ZooKeeper (<root>/clusters/<cluster>/...), as JSON. Field names are the
// stored form; `taskerman budget --json` prints them as they are (snake_case).
import type { Priority } from '../task/task-spec.js';

/** A node is disrupted: from its grant until its post_check passed (or an operator released it). */
export interface GrantRecord {
  node: string;
  zone: string | undefined;
  kind: 'task' | 'hold';
  /** The task that holds the node (kind task). */
  task_id: string | undefined;
  exclusive: boolean;
  priority: Priority;
  /** Fencing token: the gate's counter at the grant; grows with every grant of the cluster. */
  token: number;
  granted_at: string;
  /** Who asked: the runner of the node (task), or the operator (hold). */
  by: string;
  /** Why, for a hold ("disk swap"). */
  reason: string | undefined;
  /** A hold with --ttl ends by itself then (the keeper releases it, with an event). */
  expires_at: string | undefined;
  /** The request this grant answered (a waiter finds its own grant by it). */
  request: string;
  /** The node's attempts are spent (DEAD): it failed its check, so it stays unavailable until released. */
  dead: { at: string; reason: string } | undefined;
}

/** A node waiting for a grant (ephemeral sequential: it vanishes with the waiter's session). */
export interface RequestRecord {
  node: string;
  zone: string | undefined;
  kind: 'task' | 'hold';
  task_id: string | undefined;
  /** The task's own limit (at most this many nodes of the cluster disrupted when it starts one). */
  limit: number | undefined;
  exclusive: boolean;
  priority: Priority;
  requested_at: string;
  by: string;
  reason: string | undefined;
  /** Holds only: how long the hold lasts once granted. */
  ttl_ms: number | undefined;
}

/** A request as read: its record, its znode name and sequence number (the order of arrival). */
export interface Request extends RequestRecord {
  name: string;
  seq: number;
}

/** A node of the cluster seen by a runner (persistent): the budget's "known nodes" and each node's zone. */
export interface KnownNodeRecord {
  node: string;
  zone: string | undefined;
  first_seen: string;
  last_seen: string;
}

export interface WaitingEntry {
  request: string;
  node: string;
  task_id: string | undefined;
  kind: 'task' | 'hold';
  priority: Priority;
  /** What it waits for. */
  blocked_by: 'budget' | 'zone' | 'task_limit' | 'exclusive' | 'health' | 'node_busy' | 'barrier';
  reason: string;
  since: string;
}

export interface HealthResult {
  check: string;
  ok: boolean;
  at: string;
  /** "exited 1: <last line>", "timed out after 30s", "not defined in this runner's config". */
  detail: string;
  by: string;
}

/** The ledger: every grant is one transaction guarded on its version. Written by the cluster's keeper. */
/**
 * The gate as read for display (`budget`, `status`, `hold`, the web view): the ledger (GateLedger, the znode
 * `gate`) with the keeper's view of the waiting requests (WaitingRecord, the znode `waiting`) merged in.
 */
export interface GateRecord extends GateLedger {
  /** The waiting requests in the order they will be served, with why each waits (the first 100). */
  waiting: WaitingEntry[];
  waiting_total: number;
}

/**
 * The budget's ledger (the znode `gate`): its version is the compare-and-set point of every grant, so it is
 * rewritten by every round that grants, and holds only what the admission rule needs to carry from one round
 * to the next. The waiting list is kept apart (WaitingRecord): a long list rewritten with every grant made
 * each handoff write ~30 KiB.
 */
export interface GateLedger {
  /** The last fencing token handed out. */
  seq: number;
  /** Times a waiting request was passed over by later ones (zone or task limit): at MAX_BYPASS it becomes a barrier. */
  bypass: Record<string, number>;
  /** Granted nodes whose runner is gone, and since when (return_grace is counted from here). */
  absent_since: Record<string, string>;
  health: HealthResult | undefined;
  keeper: { by: string; since: string } | undefined;
  updated_at: string;
}

/** The keeper's view of the waiting requests (the znode `waiting`), for display; rewritten at most once a second. */
export interface WaitingRecord {
  /** The first 100, in the order they will be served, with why each waits. */
  waiting: WaitingEntry[];
  waiting_total: number;
  by: string;
  updated_at: string;
}

export interface BudgetEvent {
  at: string;
  kind: 'released' | 'expired' | 'left_cluster' | 'flagged';
  node: string;
  task_id: string | undefined;
  by: string;
  reason: string;
}

export const emptyLedger = (): GateLedger => ({ seq: 0, bypass: {}, absent_since: {}, health: undefined, keeper: undefined, updated_at: new Date(0).toISOString() });
export const emptyWaiting = (): WaitingRecord => ({ waiting: [], waiting_total: 0, by: '', updated_at: new Date(0).toISOString() });
export const emptyGate = (): GateRecord => ({ ...emptyLedger(), waiting: [], waiting_total: 0 });
