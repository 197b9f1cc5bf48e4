// The gate keeper of one cluster's budget. Every runner of the cluster (and a waiting `taskerman hold`) stands
// for election under <root>/clusters/<cluster>/keepers; the lowest lives keeper and grants for everyone:
// it watches the requests, the grants, the live members and the policy, applies the admission rule
// (admission.ts) and writes each round's grants in one transaction guarded on the gate's version, so two
// keepers (a handover, a partition) can never both grant from the same state. A waiter watches only its own
// node's grant znode: a release costs the keeper a handful of reads and one write, whatever the number of
// waiters, and wakes one waiter, not all of them.
//
// The keeper also runs the health gate (a check from its own runner's local config), releases holds whose
// --ttl ran out, and flags granted nodes whose runner has been gone longer than the policy's return_grace.
import { EventEmitter } from 'node:events';
import { CoordinatorError, decodeSegment, encodeSegment, fromJsonBuffer, joinPath, toJsonBuffer, type NodeData, type SessionState, type TxOp, type Watcher } from '../coordination/coordinator.js';
import { isoNow, systemClock, type Clock } from '../clock.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { mapLimit } from '../pool.js';
import { ProtectedSequential } from '../coordination/protected-sequential.js';
import { decide, waitingEntry, type Decision } from './admission.js';
import { parseStoredPolicy, seqOfRequest, type BudgetStore } from './budget-store.js';
import { runHealthCheck, type HealthChecks } from './health-check.js';
import { DEFAULT_AGEING_MS, DEFAULT_RETURN_GRACE_MS } from './policy.js';
import type { BudgetEvent, GateLedger, GrantRecord, HealthResult, KnownNodeRecord, Request, RequestRecord, WaitingEntry } from './records.js';
import type { Versioned } from '../task/task-store.js';
import type { NodeRecord } from '../task/task.js';

export interface KeeperOptions {
  store: BudgetStore;
  cluster: string;
  /** Who keeps (the runner's node name, or "cli:<user>@<host>"). */
  by: string;
  /** This process's local health checks; a policy naming a check not defined here keeps the gate closed. */
  checks: HealthChecks;
  logger: Logger;
  clock?: Clock;
  /** Re-evaluates at least this often (ageing, hold expiry, return grace, a closed health gate): default 5 s. */
  tickMs?: number;
}

export interface KeeperEvents {
  /** A round's grants were written. */
  granted: [{ cluster: string; grants: GrantRecord[] }];
  /** A granted node whose runner has been gone past return_grace, a hold expired, ...: recorded in the event log too. */
  event: [BudgetEvent];
  health: [HealthResult];
  problem: [Error];
  leading: [boolean];
}

const KEEPER_PREFIX = 'k-';
/** What a round reads; each is read again only when its watch fired (or on a tick, a new term, a conflict). */
type Source = 'policy' | 'gate' | 'grants' | 'requests' | 'known' | 'members';
const ALL_SOURCES: readonly Source[] = ['policy', 'gate', 'grants', 'requests', 'known', 'members'];
/** What `currentGrants` passes to readDir to have the grants folder listed now. */
const LIST_NOW: ReadonlySet<Source> = new Set<Source>(['grants']);
/** Request records read at once in a round (the ZooKeeper client pipelines them on its one connection). */
const READ_CONCURRENCY = 128;
/** Every this many ticks the keeper looks for grants their task left behind. */
const LEFTOVER_SWEEP_TICKS = 6;
// The waiting list (its own znode, apart from the ledger that every grant rewrites) is kept short (`budget`
// recomputes every waiting entry itself; `status` shows the reason of the first ones, the rest say they wait
// for a grant) and rewritten at most once per WAITING_EVERY_MS: a burst of 1,000 requests is a few writes.
const WAITING_KEPT = 100;
const WAITING_EVERY_MS = 1000;
// A round for new requests alone runs at most this soon after the last round began: a burst of requests (a
// 1,000-node fan-out) is looked at in batches, not one listing of every request per request. Releases, the
// members and the policy are looked at at once: a handoff never waits for this.
const REQUESTS_SPACING_MS = 20;

export class BudgetKeeper extends EventEmitter<KeeperEvents> {
  private readonly store: BudgetStore;
  private readonly cluster: string;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly tickMs: number;
  private stopped = false;
  private electionNode: string | undefined;
  private leading = false;
  private suspended = false;
  private dirty = false;
  private running: Promise<void> | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private readonly armed = new Set<string>();
  private readonly watchers = new Map<string, Watcher>();
  private grantCache = new Map<string, GrantRecord>();
  private requestCache = new Map<string, Request>();
  private knownCache = new Map<string, KnownNodeRecord>();
  /** The names last listed in each folder (grants, requests, known nodes), in the order listed. */
  private readonly listed = new Map<Source, string[]>();
  /**
   * The grants watched one by one (name → the watch's id; a watch whose id is no longer here is ignored): a
   * release names the grant it removed, so the next grant goes out without listing the folder first (see
   * evaluate). Cleared with each term and each session event.
   */
  private readonly grantWatches = new Map<string, number>();
  private grantWatchSeq = 0;
  /** The grants folder's watch fired: list it again after this round (not before: see evaluate). */
  private relistGrants = false;
  private policyCache: { data: NodeData | undefined } | undefined;
  private gateCache: Versioned<GateLedger> | undefined;
  /** The waiting list as last written (JSON), when it was last looked at, and the look due later (one per WAITING_EVERY_MS). */
  private waitingWritten: string | undefined;
  private waitingCheckedAt = 0;
  private waitingTimer: NodeJS.Timeout | undefined;
  /** When the last round began, and the round asked for by new requests alone, due REQUESTS_SPACING_MS after it. */
  private lastRoundAt = 0;
  private spacedTimer: NodeJS.Timeout | undefined;
  private liveCache: string[] | undefined;
  /** Sources to read again in the next round: a watch fired, or nothing of them is known yet. */
  private stale = new Set<Source>(ALL_SOURCES);
  private flagged = new Set<string>();
  /** Our candidacy: protected, so a create whose reply was lost is found again, never made twice. */
  private readonly candidacy: ProtectedSequential;
  /** Reads and writes of the last rounds, for the benchmark's "ZooKeeper operations per grant". */
  readonly stats = { rounds: 0, reads: 0, writes: 0, grants: 0, conflicts: 0 };

  constructor(private readonly o: KeeperOptions) {
    super();
    this.store = o.store;
    this.cluster = o.cluster;
    this.clock = o.clock ?? systemClock;
    this.log = o.logger.child({ component: 'budget-keeper', cluster: o.cluster });
    this.tickMs = o.tickMs ?? 5000;
    this.candidacy = new ProtectedSequential(o.store.coordinator, o.store.paths.keepers(o.cluster), KEEPER_PREFIX);
  }

  get isLeading(): boolean {
    return this.leading;
  }

  /** Joins the election and starts the ticks; safe to call again after it failed (ZooKeeper unreachable). */
  async start(): Promise<void> {
    await this.store.initCluster(this.cluster);
    this.unsubscribe ??= this.store.coordinator.onSessionState((s) => this.onSession(s));
    await this.join();
    if (this.ticker) return;
    this.ticker = setInterval(() => {
      if (this.electionFailed) {
        this.electionFailed = false;
        (this.electionNode ? this.checkElection() : this.join()).catch((err: unknown) => this.problem(err));
      }
      // A safety net against a watch lost with a connection: each tick reads everything again.
      this.markStale();
      this.kick();
      if (this.leading && ++this.ticks % LEFTOVER_SWEEP_TICKS === 0) {
        this.sweepLeftovers().catch((err: unknown) => this.problem(err));
      }
    }, this.tickMs);
    this.ticker.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.setLeading(false);
    if (this.ticker) clearInterval(this.ticker);
    this.clearTimers();
    this.unsubscribe?.();
    await this.running?.catch(() => undefined);
    const node = this.electionNode;
    this.electionNode = undefined;
    if (node) await this.store.coordinator.remove(node).catch(() => undefined);
  }

  private onSession(s: SessionState): void {
    if (s === 'suspended') {
      // Curator TN14: while suspended, grant nothing (the transaction would fail anyway; don't even decide).
      this.suspended = true;
      return;
    }
    this.suspended = false;
    if (s === 'lost') {
      // Our election node went with the session: stand again when a new session is up.
      this.electionNode = undefined;
      this.setLeading(false);
      this.armed.clear();
      this.grantWatches.clear();
      return;
    }
    if (this.stopped) return;
    this.armed.clear();
    this.grantWatches.clear();
    this.markStale();
    // Back (same session or a new one): stand again if our node went, and look at the election afresh either
    // way: a watch on the keeper ahead, or a read that failed while ZooKeeper was away, may have been lost.
    const again = !this.electionNode ? this.join() : this.checkElection();
    again.catch((err: unknown) => this.problem(err));
  }

  private electionFailed = false;
  private ticks = 0;

  /**
   * A safety net: a task's grant is released in the same transaction as its node's final record, so a grant
   * whose node already ended SUCCEEDED or SKIPPED (not marked dead), or whose task is gone, was left behind by
   * something this code did not foresee. It goes back, with an event that says so, unless an attempt ran
   * under it and never ended well (a node SKIPPED by a halt while it waited to retry, its runner gone): that
   * node may still be disrupted, so its grant is kept, marked dead, until a check passes or an operator
   * releases it.
   */
  private async sweepLeftovers(): Promise<void> {
    const { store, cluster } = this;
    for (const g of await store.grants(cluster)) {
      if (g.kind !== 'task' || g.dead || !g.task_id) continue;
      const d = await store.coordinator.get(store.paths.node(g.task_id, g.node));
      const rec = d ? fromJsonBuffer<Pick<NodeRecord, 'state' | 'history'>>(d.data) : undefined;
      const state = rec ? rec.state : 'gone';
      if (state !== 'SUCCEEDED' && state !== 'SKIPPED' && state !== 'gone') continue;
      if (state === 'SKIPPED' && (rec?.history ?? []).some((h) => h.fencingToken === g.token)) {
        const why = `task ${g.task_id} ended the node SKIPPED after an attempt under this grant failed or was interrupted: it may still be disrupted`;
        await store.markDead(cluster, g.node, g.token, why);
        this.log.warn({ node: g.node, task_id: g.task_id }, `grant kept, marked dead: ${why}`);
        continue;
      }
      const reason = `left behind: the node's record of task ${g.task_id} is ${state === 'gone' ? 'gone (task removed)' : state}`;
      const r = await store.releaseGrant(cluster, g.node, { by: this.o.by, reason, kind: 'released', token: g.token });
      if (r) this.log.warn({ node: g.node, task_id: g.task_id }, `grant released: ${reason}`);
    }
  }

  private problem(err: unknown): void {
    if (this.stopped) return;
    this.electionFailed = true;
    this.log.warn({ err: describeError(err) }, 'budget keeper: will try again');
    this.emit('problem', err instanceof Error ? err : new Error(String(err)));
  }

  private clearTimers(): void {
    clearTimeout(this.waitingTimer);
    clearTimeout(this.spacedTimer);
    this.waitingTimer = this.spacedTimer = undefined;
  }

  private setLeading(v: boolean): void {
    if (this.leading === v) return;
    this.leading = v;
    this.clearTimers();
    if (v) {
      this.waitingWritten = undefined;
      this.waitingCheckedAt = 0;
      // A new term: read everything afresh (another keeper may have granted meanwhile).
      this.grantCache.clear();
      this.grantWatches.clear();
      this.relistGrants = false;
      this.requestCache.clear();
      this.knownCache.clear();
      this.armed.clear();
      this.markStale();
      this.log.info('budget keeper: leading');
    }
    this.emit('leading', v);
  }

  private async join(): Promise<void> {
    this.electionNode = await this.candidacy.create(toJsonBuffer({ by: this.o.by, since: isoNow(this.clock) }));
    await this.checkElection();
  }

  private async checkElection(): Promise<void> {
    const mine = this.electionNode;
    if (!mine || this.stopped) return;
    const dir = this.store.paths.keepers(this.cluster);
    const name = mine.slice(mine.lastIndexOf('/') + 1);
    const mySeq = seqOfRequest(name);
    // One pass for the candidate just ahead of ours (the largest sequence below ours), not a sort: every
    // runner of the cluster stands, and each sorting all candidates made 1,000 runners coming up cost
    // 1,000 sorts of 1,000 names.
    let present = false;
    let ahead: string | undefined;
    let aheadSeq = -1;
    for (const n of (await this.store.coordinator.children(dir)) ?? []) {
      if (!n.startsWith(KEEPER_PREFIX)) continue;
      if (n === name) {
        present = true;
        continue;
      }
      const seq = seqOfRequest(n);
      if (seq < mySeq && seq > aheadSeq) {
        ahead = n;
        aheadSeq = seq;
      }
    }
    if (!present) {
      // Our node is gone (session expired under us): stand again.
      this.electionNode = undefined;
      this.setLeading(false);
      if (!this.stopped) await this.join();
      return;
    }
    if (ahead === undefined) {
      this.setLeading(true);
      this.kick();
      return;
    }
    this.setLeading(false);
    // Watch only the one just ahead: when it goes, look again (no herd on a keeper's death).
    const st = await this.store.coordinator.exists(joinPath(dir, ahead), () => {
      this.checkElection().catch((err: unknown) => this.problem(err));
    });
    this.electionFailed = false;
    if (!st) await this.checkElection();
  }

  private markStale(): void {
    for (const s of ALL_SOURCES) this.stale.add(s);
  }

  /** Asks for an evaluation; evaluations run one at a time, and one more runs if asked meanwhile. */
  kick(): void {
    if (!this.leading || this.stopped) return;
    this.dirty = true;
    if (this.running) return;
    // `running` is cleared in a then-callback, which always runs after this assignment (an async function that
    // finished without awaiting would clear it before the assignment and leave it set for good).
    this.running = this.evaluateWhileDirty().finally(() => {
      this.running = undefined;
      // Asked again while the last round was finishing: go on.
      if (this.dirty && this.leading && !this.suspended) this.kick();
    });
  }

  /** kick(), but no sooner than REQUESTS_SPACING_MS after the last round began. */
  private kickSpaced(): void {
    const wait = this.lastRoundAt + REQUESTS_SPACING_MS - Date.now();
    if (wait <= 0) return this.kick();
    this.spacedTimer ??= setTimeout(() => {
      this.spacedTimer = undefined;
      this.kick();
    }, wait);
  }

  private async evaluateWhileDirty(): Promise<void> {
    let rounds = 0;
    while (this.dirty && this.leading && !this.stopped && !this.suspended) {
      this.dirty = false;
      try {
        await this.evaluate();
        // The grants folder changed (its watch fired): listed by the next round, after this one decided.
        if (this.relistGrants) {
          this.relistGrants = false;
          this.stale.add('grants');
          this.dirty = true;
        }
      } catch (err) {
        // Whatever this round read or wrote, the next one starts from ZooKeeper's state, not from ours.
        this.markStale();
        if (err instanceof CoordinatorError && ['BAD_VERSION', 'NO_NODE', 'NODE_EXISTS'].includes(err.code)) {
          // Someone changed the state under this round (a request withdrawn, a grant released): go again.
          this.stats.conflicts++;
          this.dirty = ++rounds < 20;
          if (!this.dirty) this.problem(err);
        } else {
          this.problem(err);
        }
      }
    }
  }

  private watcher(path: string, source: Source): Watcher | undefined {
    if (this.armed.has(path)) return undefined;
    let w = this.watchers.get(path);
    if (!w) {
      w = () => {
        this.armed.delete(path);
        if (source === 'grants') this.relistGrants = true;
        else this.stale.add(source);
        if (source === 'requests') this.kickSpaced();
        else this.kick();
      };
      this.watchers.set(path, w);
    }
    this.armed.add(path);
    return w;
  }

  /**
   * A watch on one grant. Its removal (a node's end, a release) takes it out of the cache and asks for a round
   * at once; any other event (marked dead, a session event) has the folder read again before the next decision.
   */
  private grantWatcher(name: string): Watcher | undefined {
    if (this.grantWatches.has(name)) return undefined;
    const id = ++this.grantWatchSeq;
    this.grantWatches.set(name, id);
    return (ev) => {
      if (this.grantWatches.get(name) !== id) return;
      if (ev.type === 'deleted') return this.grantGone(name);
      this.grantWatches.delete(name);
      this.grantCache.delete(name);
      this.stale.add('grants');
      this.kick();
    };
  }

  /** A grant removed (its watch said so, or it was gone when the watch was set): out of what the next round counts. */
  private grantGone(name: string): void {
    this.grantWatches.delete(name);
    this.grantCache.delete(name);
    const listed = this.listed.get('grants');
    if (listed?.includes(name)) this.listed.set('grants', listed.filter((n) => n !== name));
    this.kick();
  }

  /** The records of a folder as last listed. */
  private cached<T>(source: Source, cache: Map<string, T>): T[] | undefined {
    return this.listed.get(source)?.map((n) => cache.get(n)).filter((x): x is T => x !== undefined);
  }

  /**
   * The grants the decision counts. A release is seen by its grant's own watch, which names it: the round that
   * follows decides on the grants known less those released, without listing the folder first (one round trip
   * less on every handoff). The folder's watch fires too (for every change, our own grants included); the
   * listing it asks for is made by the round after (evaluateWhileDirty). Deciding before it is safe: grants
   * are created only by a keeper's transaction guarded on the gate, so a grant another keeper made since our
   * last listing makes this round's transaction fail (and the next reads everything); a removal not seen yet
   * only grants less. When the gate itself is to be read again, or a grant changed otherwise (marked dead, a
   * session event), the folder is listed now, after the gate's read (a session answers in order: the listing
   * is at least as new as the gate version the transaction is guarded on).
   */
  private async currentGrants(stale: ReadonlySet<Source>): Promise<GrantRecord[]> {
    const known = stale.has('grants') || stale.has('gate') ? undefined : this.cached('grants', this.grantCache);
    if (known) return known;
    this.relistGrants = false;
    const grants = await this.readDir(this.store.paths.grants(this.cluster), 'grants', LIST_NOW, this.grantCache, (_n, d) => fromJsonBuffer<GrantRecord>(d), (n) => this.grantWatcher(n));
    // The watches follow the listing: none kept for a grant gone before its read (the read left a watch on
    // its creation, which is ignored), one for each grant known from before (cached, so not read again) whose
    // watch went with a session event.
    for (const n of this.grantWatches.keys()) if (!this.grantCache.has(n)) this.grantWatches.delete(n);
    for (const n of this.listed.get('grants') ?? []) if (!this.grantWatches.has(n)) this.watchGrant(n);
    return grants;
  }

  /** Watches a grant known without a read (this keeper's own, or cached before a session event); one gone is forgotten. */
  private watchGrant(name: string): void {
    const w = this.grantWatcher(name);
    if (!w) return;
    const id = this.grantWatches.get(name);
    this.store.coordinator.exists(joinPath(this.store.paths.grants(this.cluster), name), w).then(
      (st) => {
        if (!st && this.grantWatches.get(name) === id) this.grantGone(name);
      },
      () => {
        // Not answered (ZooKeeper away): the folder is read again before the next decision.
        if (this.grantWatches.get(name) === id) this.grantWatches.delete(name);
        this.stale.add('grants');
      },
    );
  }

  /**
   * Children of a folder with a watch, and the data of those not cached yet (cache by name); when the folder
   * has not changed since the last listing (its watch has not fired), nothing is read.
   */
  private async readDir<T>(dir: string, source: Source, stale: ReadonlySet<Source>, cache: Map<string, T>, parse: (name: string, data: Buffer) => T, watchEach?: (name: string) => Watcher | undefined): Promise<T[]> {
    const c = this.store.coordinator;
    const known = stale.has(source) ? undefined : this.cached(source, cache);
    if (known) return known;
    const names = (await c.children(dir, this.watcher(dir, source))) ?? [];
    this.stats.reads++;
    const present = new Set(names);
    for (const k of cache.keys()) if (!present.has(k)) cache.delete(k);
    const missing = names.filter((n) => !cache.has(n));
    await mapLimit(missing, READ_CONCURRENCY, async (n) => {
      const d = await c.get(joinPath(dir, n), watchEach?.(n));
      this.stats.reads++;
      if (d) cache.set(n, parse(n, d.data));
    });
    this.listed.set(source, names);
    return names.map((n) => cache.get(n)).filter((x): x is T => x !== undefined);
  }

  private async evaluate(): Promise<void> {
    this.stats.rounds++;
    this.lastRoundAt = Date.now();
    const { store, cluster } = this;
    const p = store.paths;
    const c = store.coordinator;
    // Only what changed since the last round is read (a release reads the grants folder, a new request the
    // requests), and those reads are independent: one round trip for all of them. The gate is the keeper's
    // own record: its version in the transaction below guards the round against anything that changed
    // meanwhile, and a conflict makes the next round read everything afresh.
    const stale = this.stale;
    this.stale = new Set();
    const [policyData, gateNow, grants, requests, known, liveNames] = await Promise.all([
      this.policyCache && !stale.has('policy')
        ? this.policyCache.data
        : c.get(p.policy(cluster), this.watcher(p.policy(cluster), 'policy')).then((data) => {
            this.stats.reads++;
            this.policyCache = { data };
            return data;
          }),
      this.gateCache && !stale.has('gate')
        ? this.gateCache
        : store.getLedger(cluster).then((g) => {
            this.stats.reads++;
            return (this.gateCache = g);
          }),
      this.currentGrants(stale),
      this.readDir(p.requests(cluster), 'requests', stale, this.requestCache, (n, d) => ({ ...fromJsonBuffer<RequestRecord>(d), name: n, seq: seqOfRequest(n) })),
      this.readDir(p.knownNodes(cluster), 'known', stale, this.knownCache, (_n, d) => fromJsonBuffer<KnownNodeRecord>(d)),
      this.liveCache && !stale.has('members')
        ? this.liveCache
        : c.children(p.clusterMembers(cluster), this.watcher(p.clusterMembers(cluster), 'members')).then((names) => {
            this.stats.reads++;
            return (this.liveCache = names ?? []);
          }),
    ]);
    const policy = policyData ? parseStoredPolicy(policyData.data) : undefined;
    const live = new Set((liveNames ?? []).map(decodeSegment));
    const now = this.clock.now();
    const nowIso = new Date(now).toISOString();
    const gate = gateNow.value;

    // Holds whose --ttl ran out end by themselves.
    for (const g of grants) {
      if (g.kind === 'hold' && g.expires_at && Date.parse(g.expires_at) <= now) {
        const r = await store.releaseGrant(cluster, g.node, { by: this.o.by, reason: `hold expired (ttl until ${g.expires_at})`, kind: 'expired', token: g.token });
        if (r) this.note({ at: nowIso, kind: 'expired', node: g.node, task_id: undefined, by: this.o.by, reason: `hold by ${g.by} expired` });
        this.dirty = true;
        return;
      }
    }

    // Granted nodes whose runner is gone: counted from when first seen gone; flagged (never released) past return_grace.
    const absent: Record<string, string> = {};
    const grace = policy?.returnGraceMs ?? DEFAULT_RETURN_GRACE_MS;
    for (const g of grants) {
      if (g.kind !== 'task' || live.has(g.node)) continue;
      const since = gate.absent_since[g.node] ?? nowIso;
      absent[g.node] = since;
      if (now - Date.parse(since) > grace && !this.flagged.has(`${g.node}@${g.token}`)) {
        this.flagged.add(`${g.node}@${g.token}`);
        const reason = `granted to task ${g.task_id} since ${g.granted_at}; its runner has been gone since ${since} (return_grace ${Math.round(grace / 1000)}s): check the node, then \`taskerman release ${cluster} --node ${g.node}\` if it is not coming back`;
        this.log.error({ node: g.node, task_id: g.task_id }, `grant held past its return grace: ${reason}`);
        this.note({ at: nowIso, kind: 'flagged', node: g.node, task_id: g.task_id, by: this.o.by, reason });
        await store.recordEvent(cluster, { at: nowIso, kind: 'flagged', node: g.node, task_id: g.task_id, by: this.o.by, reason }).catch(() => undefined);
      }
    }

    const ageing = policy?.ageingMs ?? DEFAULT_AGEING_MS;
    let decision: Decision = decide({ policy, grants, requests, known, live, bypass: gate.bypass, now }, ageing, WAITING_KEPT);
    let health = gate.health;
    let grantNow = decision.grant;
    if (grantNow.length > 0 && policy?.health) {
      // Every round that would grant asks the check afresh: a grant is never given on an old answer.
      const gateDef = policy.health;
      const out = await runHealthCheck(this.o.checks, gateDef);
      health = { check: gateDef.check, ok: out.ok, at: isoNow(this.clock), detail: out.detail, by: this.o.by };
      this.emit('health', health);
      if (!out.ok) {
        grantNow = [];
        const reason = `cluster health: ${gateDef.check} ${out.detail}`;
        decision = { ...decision, grant: [], waiting: [...decision.grant.map((r) => waitingEntry(r, 'health', reason)), ...decision.waiting], waiting_total: decision.waiting_total + decision.grant.length };
        this.log.warn({ check: gateDef.check, detail: out.detail }, 'health gate closed: no grant until it passes');
        this.recheckIn(gateDef.intervalMs);
      }
    }

    const next: GateLedger = {
      seq: gate.seq + grantNow.length,
      bypass: decision.bypass,
      absent_since: absent,
      health,
      keeper: { by: this.o.by, since: gate.keeper?.by === this.o.by ? gate.keeper.since : nowIso },
      updated_at: nowIso,
    };
    if (grantNow.length > 0 || !sameLedger(gate, next)) await this.writeRound(next, gateNow.version, policyData, grantNow, known, now, nowIso);
    await this.writeWaiting(decision.waiting.slice(0, WAITING_KEPT), decision.waiting_total, nowIso);
    if (this.stats.rounds % 500 === 0) await store.pruneEvents(cluster).catch(() => undefined);
  }

  /**
   * The waiting list, when it changed, at most once per WAITING_EVERY_MS (a change within that is written by a
   * round kicked when it is due). Display only: not guarded, and not part of a round's transaction.
   */
  private async writeWaiting(waiting: WaitingEntry[], total: number, nowIso: string): Promise<void> {
    // Looked at (serialised, compared, maybe written) at most once per WAITING_EVERY_MS; a round in between
    // leaves it to the round kicked when that is due.
    const due = this.waitingCheckedAt + WAITING_EVERY_MS - Date.now();
    if (due > 0) {
      this.waitingTimer ??= setTimeout(() => {
        this.waitingTimer = undefined;
        this.kick();
      }, due);
      return;
    }
    this.waitingCheckedAt = Date.now();
    const json = JSON.stringify([waiting, total]);
    if (json === this.waitingWritten) return;
    await this.store.putWaiting(this.cluster, { waiting, waiting_total: total, by: this.o.by, updated_at: nowIso });
    this.stats.writes++;
    this.waitingWritten = json;
  }

  /** One round's ledger and grants, in one transaction guarded on the ledger's (and the policy's) version. */
  private async writeRound(next: GateLedger, gateVersion: number, policyData: NodeData | undefined, grantNow: Request[], known: KnownNodeRecord[], now: number, nowIso: string): Promise<void> {
    const { store, cluster } = this;
    const p = store.paths;
    const c = store.coordinator;
    // The round's tokens follow the last one handed out (next.seq is the last of this round's).
    const lastBefore = next.seq - grantNow.length;
    const newGrants: GrantRecord[] = grantNow.map((r, i) => ({
      node: r.node,
      zone: r.zone ?? known.find((k) => k.node === r.node)?.zone,
      kind: r.kind,
      task_id: r.task_id,
      exclusive: r.exclusive,
      priority: r.priority,
      token: lastBefore + i + 1,
      granted_at: nowIso,
      by: r.by,
      reason: r.reason,
      expires_at: r.kind === 'hold' && r.ttl_ms ? new Date(now + r.ttl_ms).toISOString() : undefined,
      request: r.name,
      dead: undefined,
    }));
    const ops: TxOp[] = [
      ...(policyData ? [{ op: 'check', path: p.policy(cluster), version: policyData.stat.version } as TxOp] : []),
      { op: 'set', path: p.gate(cluster), data: toJsonBuffer(next), version: gateVersion },
      ...newGrants.flatMap((g): TxOp[] => [
        { op: 'create', path: p.grant(cluster, g.node), data: toJsonBuffer(g), mode: 'persistent' },
        { op: 'remove', path: joinPath(p.requests(cluster), g.request), version: -1 },
      ]),
    ];
    await c.transaction(ops);
    this.stats.writes++;
    // The state as this round left it (a set adds one to the version); watches on the folders bring anything else.
    this.gateCache = { value: next, version: gateVersion + 1 };
    if (newGrants.length > 0) {
      this.stats.grants += newGrants.length;
      const granted = new Set(newGrants.map((g) => g.request));
      for (const g of newGrants) {
        const name = encodeSegment(g.node);
        this.grantCache.set(name, g);
        this.requestCache.delete(g.request);
        const listed = this.listed.get('grants');
        if (listed && !listed.includes(name)) listed.push(name);
        this.watchGrant(name);
      }
      const reqs = this.listed.get('requests');
      if (reqs) this.listed.set('requests', reqs.filter((n) => !granted.has(n)));
      this.log.debug({ nodes: newGrants.map((g) => g.node) }, 'granted');
      this.emit('granted', { cluster, grants: newGrants });
    }
  }

  private recheckIn(ms: number): void {
    const t = setTimeout(() => this.kick(), ms);
    t.unref();
  }

  private note(ev: BudgetEvent): void {
    this.emit('event', ev);
  }
}

function sameLedger(a: GateLedger, b: GateLedger): boolean {
  const strip = (g: GateLedger) => JSON.stringify({ ...g, updated_at: '', keeper: g.keeper?.by });
  return strip(a) === strip(b);
}

