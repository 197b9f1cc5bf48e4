// The cluster budget's records in the coordinator (<root>/clusters/<cluster>/...): policies, the gate (the
// ledger whose version guards every grant), grants, requests, known nodes and the event log. Reads and writes
// only; the admission rule is admission.ts, the granting loop keeper.ts, the waiter's side grant-waiter.ts.
import {
  CoordinatorError,
  decodeSegment,
  fromJsonBuffer,
  isNodeExists,
  isNoNode,
  joinPath,
  toJsonBuffer,
  type Coordinator,
  type TxOp,
} from '../coordination/coordinator.js';
import type { ZkPaths } from '../coordination/zk-paths.js';
import { liveNodeNames } from '../coordination/membership.js';
import { isoNow, systemClock, type Clock } from '../clock.js';
import { mapLimit } from '../pool.js';
import { ProtectedSequential } from '../coordination/protected-sequential.js';
import { decide, orderRequests, type Decision } from './admission.js';
import { parsePolicy, policyToWire, type ClusterPolicy } from './policy.js';
import { emptyGate, emptyLedger, emptyWaiting, type BudgetEvent, type GateLedger, type GateRecord, type WaitingRecord, type GrantRecord, type KnownNodeRecord, type Request, type RequestRecord } from './records.js';
import { DEFAULT_AGEING_MS } from './policy.js';
import type { Versioned } from '../task/task-store.js';

/** Everything `taskerman budget` shows for a cluster. */
export interface BudgetSnapshot {
  cluster: string;
  policy: (ClusterPolicy & { applied_by?: string; applied_at?: string; version: number }) | undefined;
  gate: GateRecord;
  grants: GrantRecord[];
  requests: Request[];
  known: KnownNodeRecord[];
  live: string[];
  decision: Decision;
  events: BudgetEvent[];
}

/** The last full resolution of a cluster's members by discovery. */
export interface InventoryRecord {
  discovery: 'aws_tags' | 'static';
  /** The inventory file (static), relative to the router's inventory root. */
  inventory: string | undefined;
  nodes: string[];
  at: string;
}

/** The policy as stored: its wire form plus who applied it and when. */
interface StoredPolicy {
  policy: ReturnType<typeof policyToWire>;
  applied_by: string;
  applied_at: string;
}

const EVENTS_KEPT = 200;
export const REQUEST_PREFIX = 'req-';

/** The policy in a policy znode's data; undefined for the empty placeholder of a cluster with no policy. */
export function parseStoredPolicy(data: Buffer): BudgetSnapshot['policy'] {
  const s = data.length ? fromJsonBuffer<StoredPolicy | null>(data) : null;
  return s ? { ...parsePolicy(s.policy), applied_by: s.applied_by, applied_at: s.applied_at, version: 0 } : undefined;
}

export function seqOfRequest(name: string): number {
  return Number(name.slice(name.lastIndexOf('-') + 1));
}

export class BudgetStore {
  constructor(
    readonly coordinator: Coordinator,
    readonly paths: ZkPaths,
    private readonly clock: Clock = systemClock,
  ) {}

  private iso(): string {
    return isoNow(this.clock);
  }

  /** Creates the cluster's folders, its gate and its waiting list if they are missing. */
  async initCluster(cluster: string): Promise<void> {
    const p = this.paths;
    await Promise.all([p.grants(cluster), p.requests(cluster), p.knownNodes(cluster), p.keepers(cluster), p.events(cluster)].map((d) => this.coordinator.mkdirp(d)));
    // The gate and the policy always exist (the policy as an empty placeholder until one is applied), so a
    // grant's transaction can check both versions: a policy applied meanwhile makes it fail and decide again.
    // The waiting list too, so that the keeper only ever sets it.
    for (const [path, data] of [[p.gate(cluster), toJsonBuffer(emptyLedger())], [p.policy(cluster), Buffer.alloc(0)], [p.waiting(cluster), toJsonBuffer(emptyWaiting())]] as const) {
      try {
        await this.coordinator.create(path, data);
      } catch (err) {
        if (!isNodeExists(err)) throw err;
      }
    }
  }

  // ---- policies ----

  async applyPolicy(policy: ClusterPolicy, by: string): Promise<{ created: boolean; version: number }> {
    await this.initCluster(policy.cluster);
    const path = this.paths.policy(policy.cluster);
    const data = toJsonBuffer({ policy: policyToWire(policy), applied_by: by, applied_at: this.iso() } satisfies StoredPolicy);
    const before = await this.coordinator.get(path);
    const st = await this.coordinator.set(path, data, -1);
    return { created: !before || before.data.length === 0, version: st.version };
  }

  async getPolicy(cluster: string, watch?: () => void): Promise<BudgetSnapshot['policy']> {
    const d = await this.coordinator.get(this.paths.policy(cluster), watch);
    const p = d ? parseStoredPolicy(d.data) : undefined;
    return p && d ? { ...p, version: d.stat.version } : undefined;
  }

  async removePolicy(cluster: string): Promise<boolean> {
    const d = await this.coordinator.get(this.paths.policy(cluster));
    if (!d || d.data.length === 0) return false;
    await this.coordinator.set(this.paths.policy(cluster), Buffer.alloc(0), d.stat.version);
    return true;
  }

  /** Clusters that have a budget folder (a policy, a runner, a grant). */
  async clusters(): Promise<string[]> {
    return ((await this.coordinator.children(this.paths.clusters)) ?? []).map(decodeSegment).sort();
  }

  // ---- known nodes ----

  /** A runner says its node belongs to the cluster (and in which zone). */
  async registerNode(cluster: string, node: string, zone: string | undefined): Promise<void> {
    await this.initCluster(cluster);
    const path = this.paths.knownNode(cluster, node);
    const now = this.iso();
    const d = await this.coordinator.get(path);
    if (!d) {
      try {
        await this.coordinator.create(path, toJsonBuffer({ node, zone, first_seen: now, last_seen: now } satisfies KnownNodeRecord));
        return;
      } catch (err) {
        if (!isNodeExists(err)) throw err;
      }
    }
    const cur = d ? fromJsonBuffer<KnownNodeRecord>(d.data) : undefined;
    await this.coordinator.set(path, toJsonBuffer({ node, zone, first_seen: cur?.first_seen ?? now, last_seen: now } satisfies KnownNodeRecord), -1);
  }

  /** The node left the cluster (discovery no longer returns it): it is no longer counted. */
  async forgetNode(cluster: string, node: string): Promise<void> {
    await this.coordinator.remove(this.paths.knownNode(cluster, node)).catch((err: unknown) => {
      if (!isNoNode(err)) throw err;
    });
  }

  async knownNodes(cluster: string): Promise<KnownNodeRecord[]> {
    return this.readAll<KnownNodeRecord>(this.paths.knownNodes(cluster));
  }

  liveNodes(cluster: string): Promise<string[]> {
    return liveNodeNames(this.coordinator, this.paths, cluster);
  }

  // ---- inventory: how the cluster's full membership was last resolved (for the router's janitor) ----

  /** Records how a task resolved the cluster's whole membership (aws_tags or static), and what it found. */
  async recordInventory(cluster: string, inv: InventoryRecord): Promise<void> {
    await this.initCluster(cluster);
    const path = joinPath(this.paths.cluster(cluster), 'inventory');
    try {
      await this.coordinator.create(path, toJsonBuffer(inv));
    } catch (err) {
      if (!isNodeExists(err)) throw err;
      await this.coordinator.set(path, toJsonBuffer(inv), -1);
    }
  }

  async inventory(cluster: string): Promise<InventoryRecord | undefined> {
    const d = await this.coordinator.get(joinPath(this.paths.cluster(cluster), 'inventory'));
    return d ? fromJsonBuffer<InventoryRecord>(d.data) : undefined;
  }

  // ---- grants ----

  async getGrant(cluster: string, node: string): Promise<Versioned<GrantRecord> | undefined> {
    const d = await this.coordinator.get(this.paths.grant(cluster, node));
    return d ? { value: fromJsonBuffer<GrantRecord>(d.data), version: d.stat.version } : undefined;
  }

  async grants(cluster: string): Promise<GrantRecord[]> {
    return this.readAll<GrantRecord>(this.paths.grants(cluster));
  }

  /** The op that gives a grant back; the runner puts it in the same transaction as the node's final record. */
  releaseOp(cluster: string, node: string, version: number): TxOp {
    return { op: 'remove', path: this.paths.grant(cluster, node), version };
  }

  /** The node's attempts are spent: it keeps its grant, marked dead, until a later check passes or an operator releases it. */
  async markDead(cluster: string, node: string, token: number, reason: string): Promise<void> {
    const path = this.paths.grant(cluster, node);
    for (let i = 0; i < 10; i++) {
      const d = await this.coordinator.get(path);
      if (!d) return;
      const g = fromJsonBuffer<GrantRecord>(d.data);
      if (g.token !== token) return;
      try {
        await this.coordinator.set(path, toJsonBuffer({ ...g, dead: { at: this.iso(), reason } } satisfies GrantRecord), d.stat.version);
        return;
      } catch (err) {
        if (!(err instanceof CoordinatorError && (err.code === 'BAD_VERSION' || err.code === 'NO_NODE'))) throw err;
      }
    }
  }

  /**
   * Gives a grant back on someone's word (an operator, a router that saw the node leave, an expired hold),
   * and records who and why. Returns the grant released, or undefined when the node held none (or, with
   * `token`, held another one).
   */
  async releaseGrant(cluster: string, node: string, ev: { by: string; reason: string; kind: BudgetEvent['kind']; token?: number }): Promise<GrantRecord | undefined> {
    const path = this.paths.grant(cluster, node);
    for (let i = 0; i < 10; i++) {
      const d = await this.coordinator.get(path);
      if (!d) return undefined;
      const g = fromJsonBuffer<GrantRecord>(d.data);
      if (ev.token !== undefined && g.token !== ev.token) return undefined;
      try {
        await this.coordinator.transaction([
          { op: 'remove', path, version: d.stat.version },
          { op: 'create', path: joinPath(this.paths.events(cluster), 'e-'), data: toJsonBuffer({ at: this.iso(), kind: ev.kind, node, task_id: g.task_id, by: ev.by, reason: ev.reason } satisfies BudgetEvent), mode: 'persistent_sequential' },
        ]);
        return g;
      } catch (err) {
        if (!(err instanceof CoordinatorError && (err.code === 'BAD_VERSION' || err.code === 'NO_NODE'))) throw err;
        if (err.code === 'NO_NODE' && err.path !== path) await this.initCluster(cluster);
      }
    }
    return undefined;
  }

  async recordEvent(cluster: string, ev: BudgetEvent): Promise<void> {
    await this.coordinator.create(joinPath(this.paths.events(cluster), 'e-'), toJsonBuffer(ev), 'persistent_sequential');
  }

  async events(cluster: string, last = 50): Promise<BudgetEvent[]> {
    const dir = this.paths.events(cluster);
    const names = ((await this.coordinator.children(dir)) ?? []).sort();
    const read = await mapLimit(names.slice(-last), 16, async (n) => this.coordinator.get(joinPath(dir, n)));
    return read.filter((d) => d !== undefined).map((d) => fromJsonBuffer<BudgetEvent>(d.data));
  }

  /** Keeps the last EVENTS_KEPT events. */
  async pruneEvents(cluster: string): Promise<void> {
    const dir = this.paths.events(cluster);
    const names = ((await this.coordinator.children(dir)) ?? []).sort();
    if (names.length <= EVENTS_KEPT + EVENTS_KEPT / 4) return;
    await mapLimit(names.slice(0, names.length - EVENTS_KEPT), 16, (n) => this.coordinator.remove(joinPath(dir, n)).catch(() => undefined));
  }

  // ---- requests ----

  /** Adds a waiting request (ephemeral sequential: it goes with the waiter's session). Returns its name. */
  /** A creator of this cluster's requests that never makes two for one ask (see ProtectedSequential). */
  requester(cluster: string): ProtectedSequential {
    return new ProtectedSequential(this.coordinator, this.paths.requests(cluster), REQUEST_PREFIX);
  }

  async request(cluster: string, r: RequestRecord, requester = this.requester(cluster)): Promise<string> {
    const create = () => requester.create(toJsonBuffer(r));
    let path: string;
    try {
      path = await create();
    } catch (err) {
      if (!isNoNode(err)) throw err;
      await this.initCluster(cluster);
      path = await create();
    }
    return path.slice(path.lastIndexOf('/') + 1);
  }

  async withdraw(cluster: string, name: string): Promise<void> {
    await this.coordinator.remove(joinPath(this.paths.requests(cluster), name)).catch((err: unknown) => {
      if (!isNoNode(err) && !(err instanceof CoordinatorError && (err.code === 'SESSION_EXPIRED' || err.code === 'CLOSED'))) throw err;
    });
  }

  async requests(cluster: string): Promise<Request[]> {
    const dir = this.paths.requests(cluster);
    const names = ((await this.coordinator.children(dir)) ?? []).filter((n) => n.startsWith(REQUEST_PREFIX));
    const read = await mapLimit(names, 16, async (name) => ({ name, d: await this.coordinator.get(joinPath(dir, name)) }));
    return read.filter((r) => r.d !== undefined).map((r) => ({ ...fromJsonBuffer<RequestRecord>(r.d!.data), name: r.name, seq: seqOfRequest(r.name) }));
  }

  // ---- gate ----

  /** The gate for display: the ledger with the keeper's waiting list merged in (the ledger's version). */
  async getGate(cluster: string): Promise<Versioned<GateRecord>> {
    const [d, w] = await Promise.all([this.coordinator.get(this.paths.gate(cluster)), this.coordinator.get(this.paths.waiting(cluster))]);
    // A gate written by a keeper of an earlier version carries its waiting list itself; the newer of the two wins
    // (the gate's on a tie: the waiting record initCluster makes is as old as an empty gate).
    const stored = d ? fromJsonBuffer<Partial<GateRecord>>(d.data) : undefined;
    const list = w ? fromJsonBuffer<WaitingRecord>(w.data) : undefined;
    const fromGate = stored?.waiting !== undefined && (!list || (stored.updated_at ?? '') >= list.updated_at);
    const waiting = fromGate ? { waiting: stored.waiting ?? [], waiting_total: stored.waiting_total ?? stored.waiting?.length ?? 0 } : { waiting: list?.waiting ?? [], waiting_total: list?.waiting_total ?? 0 };
    return { value: { ...emptyGate(), ...stored, ...waiting }, version: d ? d.stat.version : -1 };
  }

  /** The ledger alone (the keeper's compare-and-set point). */
  async getLedger(cluster: string): Promise<Versioned<GateLedger>> {
    const d = await this.coordinator.get(this.paths.gate(cluster));
    if (!d) return { value: emptyLedger(), version: -1 };
    const { waiting: _w, waiting_total: _t, ...ledger } = { ...emptyLedger(), ...fromJsonBuffer<Partial<GateRecord>>(d.data) };
    return { value: ledger, version: d.stat.version };
  }

  /** Writes the keeper's view of the waiting requests (display only: not guarded, last writer wins). */
  async putWaiting(cluster: string, rec: WaitingRecord): Promise<void> {
    const set = () => this.coordinator.set(this.paths.waiting(cluster), toJsonBuffer(rec), -1);
    try {
      await set();
    } catch (err) {
      // Made by initCluster; gone only if removed by hand.
      if (!isNoNode(err)) throw err;
      await this.initCluster(cluster);
      await set();
    }
  }

  /** Everything about one cluster's budget, and the keeper's rule applied to it now (for `budget`, `status`, `plan`). */
  async inspect(cluster: string): Promise<BudgetSnapshot> {
    const [policy, gate, grants, requests, known, live, events] = await Promise.all([
      this.getPolicy(cluster),
      this.getGate(cluster),
      this.grants(cluster),
      this.requests(cluster),
      this.knownNodes(cluster),
      this.liveNodes(cluster),
      this.events(cluster, 20),
    ]);
    const ageing = policy?.ageingMs ?? DEFAULT_AGEING_MS;
    const decision = decide({ policy, grants, requests, known, live: new Set(live), bypass: gate.value.bypass, now: this.clock.now() }, ageing);
    return {
      cluster,
      policy,
      gate: gate.value,
      grants: grants.sort((a, b) => a.token - b.token),
      requests: orderRequests(requests, this.clock.now(), ageing),
      known: known.sort((a, b) => a.node.localeCompare(b.node, 'en', { numeric: true })),
      live,
      decision,
      events,
    };
  }

  private async readAll<T>(dir: string): Promise<T[]> {
    const names = (await this.coordinator.children(dir)) ?? [];
    const read = await mapLimit(names, 16, (n) => this.coordinator.get(joinPath(dir, n)));
    return read.filter((d) => d !== undefined).map((d) => fromJsonBuffer<T>(d.data));
  }
}
