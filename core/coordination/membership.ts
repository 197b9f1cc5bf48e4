// Live membership: each runner holds an ephemeral znode <root>/members/<cluster>/<node> for as long as its
// session lives, and re-creates it when a new session replaces a lost one. `members` discovery and `plan`
// read it.
import { decodeSegment, fromJsonBuffer, isNodeExists, toJsonBuffer, type Coordinator } from './coordinator.js';
import type { ZkPaths } from './zk-paths.js';

export interface MemberInfo {
  node: string;
  cluster: string;
  pid: number;
  host: string;
  version: string;
  since: string;
}

export class Membership {
  private unsubscribe: (() => void) | undefined;
  private info: MemberInfo | undefined;

  constructor(
    private readonly coordinator: Coordinator,
    private readonly paths: ZkPaths,
  ) {}

  /** Registers this process as the live runner of `node`; kept across session loss until `leave()`. */
  async join(info: MemberInfo): Promise<void> {
    this.info = info;
    await this.create();
    this.unsubscribe ??= this.coordinator.onSessionState((s) => {
      if (s === 'connected' && this.info) void this.create().catch(() => undefined);
    });
  }

  private async create(): Promise<void> {
    const info = this.info;
    if (!info) return;
    await this.coordinator.mkdirp(this.paths.clusterMembers(info.cluster));
    try {
      await this.coordinator.create(this.paths.member(info.cluster, info.node), toJsonBuffer(info), 'ephemeral');
    } catch (err) {
      // A previous session of ours may still hold it until it times out; that is still "live".
      if (!isNodeExists(err)) throw err;
    }
  }

  async leave(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    const info = this.info;
    this.info = undefined;
    if (info) await this.coordinator.remove(this.paths.member(info.cluster, info.node)).catch(() => undefined);
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
