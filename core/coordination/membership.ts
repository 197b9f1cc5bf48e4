// Live membership: each runner holds an ephemeral znode <root>/members/<cluster>/<node> for as long as its
// session lives. "The znode exists" is not "it is mine": after a restart, or a ZooKeeper outage longer than the
// session timeout, the znode may still belong to a previous session that has not expired yet. So membership
// checks the znode's owner, watches a foreign one until it goes and then creates its own, and checks again on
// every new or resumed session. A live, polling runner is thus always a member; a dead one stops being one
// when its session expires. `members` discovery, `plan` and the cluster budget read it.
import { decodeSegment, fromJsonBuffer, isNodeExists, toJsonBuffer, type Coordinator } from './coordinator.js';
import type { ZkPaths } from './zk-paths.js';

export interface MemberInfo {
  node: string;
  cluster: string;
  pid: number;
  host: string;
  version: string;
  since: string;
  /** The runner's zone (--zone, or EC2 placement): the cluster budget's zone_budget counts by it. */
  zone?: string;
}

/** The live runners of a cluster, by node name: one listing (a member znode is named after its node). */
export async function liveNodeNames(coordinator: Coordinator, paths: ZkPaths, cluster: string): Promise<string[]> {
  return ((await coordinator.children(paths.clusterMembers(cluster))) ?? []).map(decodeSegment).sort();
}

export class Membership {
  private unsubscribe: (() => void) | undefined;
  private info: MemberInfo | undefined;
  private ensuring: Promise<void> | undefined;
  private again = false;
  /** A failure the membership survived (it tries again on the next session event or watch). */
  onProblem: (err: unknown) => void = () => undefined;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly paths: ZkPaths,
  ) {}

  /** Registers this process as the live runner of `node`; kept across session loss until `leave()`. */
  async join(info: MemberInfo): Promise<void> {
    this.info = info;
    this.unsubscribe ??= this.coordinator.onSessionState((s) => {
      if (s === 'connected' || s === 'reconnected') this.kick();
    });
    await this.ensure();
  }

  private kick(): void {
    this.ensure().catch((err: unknown) => this.onProblem(err));
  }

  /** One ensure at a time; a request that arrives meanwhile runs once more after it. */
  private async ensure(): Promise<void> {
    if (this.ensuring) {
      this.again = true;
      return this.ensuring;
    }
    this.ensuring = (async () => {
      try {
        do {
          this.again = false;
          await this.ensureOnce();
        } while (this.again);
      } finally {
        this.ensuring = undefined;
      }
    })();
    return this.ensuring;
  }

  private async ensureOnce(): Promise<void> {
    const info = this.info;
    if (!info) return;
    const path = this.paths.member(info.cluster, info.node);
    await this.coordinator.mkdirp(this.paths.clusterMembers(info.cluster));
    for (let i = 0; i < 3; i++) {
      try {
        await this.coordinator.create(path, toJsonBuffer(info), 'ephemeral');
        return;
      } catch (err) {
        if (!isNodeExists(err)) throw err;
      }
      // Someone's znode is there. Ours (a create whose reply was lost, or a resumed session): done. A previous
      // session's: watch it, and create ours the moment it goes (when that session expires).
      const st = await this.coordinator.exists(path, () => {
        // Deleted (its session expired), or the watch ended with our session: look again either way.
        if (this.info) this.kick();
      });
      if (!st) continue;
      return;
    }
  }

  async leave(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const info = this.info;
    this.info = undefined;
    if (!info) return;
    const path = this.paths.member(info.cluster, info.node);
    const st = await this.coordinator.exists(path).catch(() => undefined);
    // Only our own znode: a successor's (a new runner already up) is not ours to remove.
    if (st && st.ephemeralOwner === this.coordinator.sessionId) await this.coordinator.remove(path).catch(() => undefined);
  }

  async list(cluster: string): Promise<MemberInfo[]> {
    const dir = this.paths.clusterMembers(cluster);
    const kids = (await this.coordinator.children(dir)) ?? [];
    const out: MemberInfo[] = [];
    for (const k of kids) {
      const d = await this.coordinator.get(`${dir}/${k}`);
      if (d) out.push(d.data.length ? fromJsonBuffer<MemberInfo>(d.data) : ({ node: decodeSegment(k), cluster } as MemberInfo));
    }
    return out.sort((a, b) => a.node.localeCompare(b.node, 'en', { numeric: true }));
  }
}
