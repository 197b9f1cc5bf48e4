// Leader election on the Coordinator port, ZooKeeper's recipe: every candidate creates an ephemeral
// sequential znode under <root>/scheduler/leader; the lowest sequence number leads; every other candidate
// watches only its predecessor (no herd effect when the leader goes), and re-runs the election when it goes.
//
// Leadership is given up the moment the session is suspended or lost (Apache Curator tech note 14): a
// leader that cannot reach ZooKeeper cannot know whether its session (and so its znode) is still there.
// When the same session comes back (`reconnected`) the election is re-run and, the znode being intact, the
// candidate usually leads again; after `lost` it joins again with a new znode, at the back of the line.
//
// A create whose answer was lost on a connection loss may still have created the znode: the name carries a
// per-candidate GUID so that the candidate finds and adopts it (Curator's "protected" mode) rather than
// leaving an orphan that would lead, and block every other candidate, for as long as the session lives.
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { CoordinatorError, joinPath, type Coordinator, type SessionState, type Watcher } from '../core/coordination/coordinator.js';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';

export interface LeaderElectionOptions {
  coordinator: Coordinator;
  /** The election's folder, e.g. <root>/scheduler/leader. */
  dir: string;
  logger: Logger;
  /** Stored in our znode, for operators looking at the election. Default `<hostname>:<pid>`. */
  id?: string;
  /** Pause before re-running a round that failed for another reason than the session, ms. Default 1000. */
  retryMs?: number;
}

export interface LeaderElectionEvents {
  /** Leadership changed: true = this candidate leads now. */
  change: [boolean];
}

const PREFIX = 'n_';

function seqOf(name: string): number {
  return Number(name.slice(name.lastIndexOf('_') + 1));
}

const isSessionError = (err: unknown): boolean =>
  err instanceof CoordinatorError && (err.code === 'CONNECTION_LOSS' || err.code === 'SESSION_EXPIRED' || err.code === 'CLOSED');

export class LeaderElection extends EventEmitter<LeaderElectionEvents> {
  private readonly guid = randomUUID();
  private readonly log: Logger;
  private readonly id: string;
  private readonly retryMs: number;
  private phase: 'idle' | 'running' | 'stopped' = 'idle';
  private ourPath: string | undefined;
  private leader = false;
  private round: Promise<void> | undefined;
  private again = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** One function, so that re-arming the same watch on a path registers it once. */
  private readonly watcher: Watcher = () => void this.kick();

  constructor(private readonly o: LeaderElectionOptions) {
    super();
    this.log = o.logger.child({ component: 'leader-election' });
    this.id = o.id ?? `${hostname()}:${process.pid}`;
    this.retryMs = o.retryMs ?? 1000;
  }

  isLeader(): boolean {
    return this.leader;
  }

  /** Our znode, while we are a candidate. */
  get path(): string | undefined {
    return this.ourPath;
  }

  /** Joins the election; resolves once the first round ran (this candidate leads or waits). */
  async start(): Promise<void> {
    if (this.phase !== 'idle') return;
    this.phase = 'running';
    this.unsubscribe = this.o.coordinator.onSessionState((s) => this.onSession(s));
    await this.o.coordinator.mkdirp(this.o.dir);
    await this.kick();
  }

  /** Leaves the election: leadership ends at once, our znode goes so that the next candidate leads without waiting for a session timeout. */
  async stop(): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'stopped';
    clearTimeout(this.retryTimer);
    this.unsubscribe?.();
    await this.round;
    this.setLeader(false, 'stopped');
    const path = this.ourPath;
    this.ourPath = undefined;
    if (path) {
      try {
        await this.o.coordinator.remove(path);
      } catch {
        // Gone with the session, or the session is gone: either way we no longer stand.
      }
    }
  }

  private onSession(s: SessionState): void {
    if (s === 'suspended' || s === 'lost') {
      if (s === 'lost') this.ourPath = undefined;
      this.setLeader(false, `ZooKeeper session ${s}`);
      return;
    }
    void this.kick();
  }

  private setLeader(v: boolean, reason: string): void {
    if (this.leader === v) return;
    this.leader = v;
    this.log.info({ leader: v, node: this.ourPath, reason }, v ? 'leading' : 'not leading');
    this.emit('change', v);
  }

  /** Runs election rounds, one at a time, until one ends with nothing new to look at. */
  private kick(): Promise<void> {
    if (this.phase !== 'running') return Promise.resolve();
    if (this.round) {
      this.again = true;
      return this.round;
    }
    this.round = (async () => {
      try {
        do {
          this.again = false;
          await this.runRound();
        } while (this.again && this.phase === 'running');
      } finally {
        this.round = undefined;
      }
    })();
    return this.round;
  }

  private async runRound(): Promise<void> {
    const c = this.o.coordinator;
    try {
      this.ourPath ??= await this.join();
      const ours = this.ourPath.slice(this.ourPath.lastIndexOf('/') + 1);
      const line = ((await c.children(this.o.dir)) ?? []).filter((k) => k.startsWith(PREFIX)).sort((a, b) => seqOf(a) - seqOf(b));
      const i = line.indexOf(ours);
      if (this.phase !== 'running') return;
      if (i < 0) {
        // Our znode is gone (session lost, or removed by hand): stand again.
        this.ourPath = undefined;
        this.setLeader(false, 'our election node is gone');
        this.again = true;
        return;
      }
      if (i === 0) {
        // Watch our own znode too: should it vanish while the session lives, we must stop leading.
        if (!(await c.exists(this.ourPath, this.watcher))) {
          this.again = true;
          return;
        }
        this.setLeader(true, 'lowest candidate');
        return;
      }
      this.setLeader(false, 'not the lowest candidate');
      const predecessor = joinPath(this.o.dir, line[i - 1] as string);
      if (!(await c.exists(predecessor, this.watcher))) this.again = true;
    } catch (err) {
      if (this.phase !== 'running') return;
      // Safety first: we cannot tell whether we lead.
      this.setLeader(false, `election round failed: ${describeError(err)}`);
      if (err instanceof CoordinatorError && err.code === 'CLOSED') return;
      // Session trouble re-runs the round on `reconnected`/`connected`; the timer covers everything else.
      if (!isSessionError(err)) this.log.warn({ err: describeError(err) }, 'leader election round failed; retrying');
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => void this.kick(), this.retryMs);
      this.retryTimer.unref();
    }
  }

  private async join(): Promise<string> {
    const c = this.o.coordinator;
    const mine = ((await c.children(this.o.dir)) ?? []).find((k) => k.startsWith(`${PREFIX}${this.guid}_`));
    if (mine) return joinPath(this.o.dir, mine);
    return c.create(joinPath(this.o.dir, `${PREFIX}${this.guid}_`), Buffer.from(this.id, 'utf8'), 'ephemeral_sequential');
  }
}
