// A scripted Cassandra cluster for tests: a JSON state file that the fake `nodetool` (nodetool.mjs, next to
// this file) reads and writes, and helpers to change it (a node goes down, a repair runs, compactions pile
// up) and to restart a node as a service manager would (gossip and native transport come back after a boot).
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FAKE_NODETOOL = join(dirname(fileURLToPath(import.meta.url)), 'nodetool.mjs');

export type NodeStatus = 'UN' | 'DN' | 'UJ' | 'UL' | 'UM' | 'DJ' | 'DL' | 'DM';

export interface FakeCassandraNode {
  name: string;
  address: string;
  dc: string;
  rack: string;
  hostId: string;
  /** Seen up by its peers (gossip). */
  up: boolean;
  /** N(ormal), J(oining), L(eaving), M(oving). */
  state: 'N' | 'J' | 'L' | 'M';
  schema: string;
  /** JMX answers (the process is running). */
  jmx: boolean;
  binary: boolean;
  gossip: boolean;
  mode: 'NORMAL' | 'DRAINING' | 'DRAINED' | 'STARTING' | 'JOINING';
  pendingCompactions: number;
  compactions: Array<{ id: string; type: string; keyspace: string; table: string; completed: number; total: number }>;
  streams: Array<{ description: string; planId: string; peer: string }>;
  repairRunning: boolean;
  drain: 'ok' | 'hang' | 'fail';
  repair: 'ok' | 'fail' | 'hang';
  repairMs: number;
}

export interface FakeCassandraState {
  clusterName: string;
  nodes: FakeCassandraNode[];
  /** views[viewer][node] = how viewer sees node, overriding gossip (a partition, a node with a stale view). */
  views: Record<string, Record<string, NodeStatus>>;
}

export interface NodetoolCall {
  host: string | null;
  self: string | null;
  command: string;
  args: string[];
  at: number;
}

export class FakeCassandraCluster {
  readonly dir: string;
  readonly statePath: string;
  private timers = new Set<NodeJS.Timeout>();

  /** `racks` lists the rack of each node, in order: ['r1', 'r1', 'r2'] makes three nodes cass-1..3. */
  constructor(racks: string[], opts: { dc?: string; clusterName?: string } = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'taskerman-fake-cassandra-'));
    this.statePath = join(this.dir, 'cluster.json');
    const schema = '65e78f0e-e81e-30d8-a631-a65dff93bf82';
    this.write({
      clusterName: opts.clusterName ?? 'geo_counter',
      views: {},
      nodes: racks.map((rack, i) => ({
        name: `cass-${i + 1}`,
        address: `10.0.0.${i + 1}`,
        dc: opts.dc ?? 'dc1',
        rack,
        hostId: `0f7e5bcc-0000-4000-8000-00000000000${i + 1}`.slice(0, 36),
        up: true,
        state: 'N',
        schema,
        jmx: true,
        binary: true,
        gossip: true,
        mode: 'NORMAL',
        pendingCompactions: 0,
        compactions: [],
        streams: [],
        repairRunning: false,
        drain: 'ok',
        repair: 'ok',
        repairMs: 50,
      })),
    });
  }

  /** Environment for the fake nodetool run as `name`'s local nodetool. */
  env(name: string): Record<string, string> {
    return { FAKE_NODETOOL_STATE: this.statePath, FAKE_NODETOOL_SELF: name };
  }

  read(): FakeCassandraState {
    return JSON.parse(readFileSync(this.statePath, 'utf8')) as FakeCassandraState;
  }

  write(s: FakeCassandraState): void {
    const tmp = `${this.statePath}.t.tmp`;
    writeFileSync(tmp, JSON.stringify(s, null, 2));
    renameSync(tmp, this.statePath);
  }

  node(name: string): FakeCassandraNode {
    const n = this.read().nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no fake node ${name}`);
    return n;
  }

  set(name: string, patch: Partial<FakeCassandraNode>): void {
    const s = this.read();
    const n = s.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no fake node ${name}`);
    Object.assign(n, patch);
    this.write(s);
  }

  view(viewer: string, node: string, status: NodeStatus): void {
    const s = this.read();
    s.views[viewer] = { ...s.views[viewer], [node]: status };
    this.write(s);
  }

  /**
   * What a service manager's restart does to the node: the process dies (JMX gone, peers see it down), then
   * after `bootMs` it is back, first STARTING, then after `joinMs` more gossiping and serving CQL again.
   */
  restart(name: string, opts: { bootMs?: number; joinMs?: number; comesBack?: boolean } = {}): void {
    this.set(name, { jmx: false, up: false, binary: false, gossip: false, mode: 'STARTING', repairRunning: false, compactions: [], streams: [] });
    if (opts.comesBack === false) return;
    this.after(opts.bootMs ?? 30, () => {
      this.set(name, { jmx: true, mode: 'STARTING' });
      this.after(opts.joinMs ?? 30, () => this.set(name, { up: true, gossip: true, binary: true, mode: 'NORMAL', drain: this.node(name).drain === 'hang' ? 'ok' : this.node(name).drain }));
    });
  }

  calls(): NodetoolCall[] {
    const p = `${this.statePath}.log`;
    if (!existsSync(p)) return [];
    return readFileSync(p, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as NodetoolCall);
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
