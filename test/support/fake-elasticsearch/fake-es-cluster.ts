// A scripted Elasticsearch cluster for tests: one loopback HTTP server per node (a node that is down refuses
// connections, as a stopped node does), all sharing one cluster model whose health follows from where the
// shard copies are: a primary with no started copy makes it red, a missing replica yellow. Nodes leave and
// come back (a service manager's restart); a returning node gets its copies back only as far as the
// allocation settings allow (`cluster.routing.allocation.enable`: all | primaries | new_primaries | none).
//
// Endpoints, with the shapes of the Elasticsearch 8 REST API reference:
//   GET  /                                  node and version info
//   GET  /_cluster/health                   wait_for_status, wait_for_nodes, wait_for_no_relocating_shards,
//                                           wait_for_no_initializing_shards, wait_for_events, timeout
//                                           (a wait that times out answers 408 with timed_out: true)
//   GET  /_cluster/settings                 persistent and transient, nested or with flat_settings=true
//   PUT  /_cluster/settings                 persistent/transient; null resets a setting to its default
//   POST /_flush                            _shards totals
//   GET  /_cat/nodes?format=json&h=...      id (with full_id), name, ip, node.role, master
//   GET  /_cat/shards?format=json&h=...     index, shard, prirep, state, node
//   GET  /_nodes/_local                     this node's id, name and roles
//   GET  /_cluster/state/metadata           cluster_coordination.last_committed_config (the voting nodes)
//   PUT|GET|DELETE /_nodes/<id>/shutdown    node shutdown API (type restart)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Health = 'green' | 'yellow' | 'red';
export type ShardState = 'STARTED' | 'INITIALIZING' | 'RELOCATING' | 'UNASSIGNED';

export interface FakeEsNode {
  id: string;
  name: string;
  /** node.role letters as _cat/nodes prints them: m = master-eligible, d = data, ... */
  roles: string;
  up: boolean;
  port: number;
}

export interface FakeShard {
  index: string;
  shard: number;
  prirep: 'p' | 'r';
  state: ShardState;
  /** Node name holding the copy; kept while unassigned as the copy's home (where it comes back); '' for none. */
  node: string;
}

export interface ShutdownRecord {
  node_id: string;
  type: string;
  reason: string;
  allocation_delay?: string;
  shutdown_startedmillis: number;
}

const ROLE_NAMES: Record<string, string> = { m: 'master', d: 'data', i: 'ingest', r: 'remote_cluster_client', l: 'ml', t: 'transform', h: 'data_hot', c: 'data_content', w: 'data_warm', s: 'data_content' };
const RANK: Record<Health, number> = { red: 0, yellow: 1, green: 2 };

export class FakeEsCluster {
  readonly clusterName = 'logs';
  readonly version: string;
  nodes: FakeEsNode[] = [];
  shards: FakeShard[] = [];
  settings: { persistent: Record<string, unknown>; transient: Record<string, unknown> } = { persistent: {}, transient: {} };
  shutdowns = new Map<string, ShutdownRecord>();
  masterName: string;
  /** Replicas of a returning node never recover (a cluster that stays yellow: disk watermark, filters). */
  stuckReplicas = false;
  /** How long a recovering copy stays INITIALIZING, ms. */
  recoveryMs = 40;
  /** Every request, for assertions on what an action did. */
  readonly requests: Array<{ node: string; method: string; path: string; body?: unknown }> = [];
  private servers = new Map<string, { server: Server; sockets: Set<Socket> }>();
  private timers = new Set<NodeJS.Timeout>();

  constructor(opts: { nodes: Array<{ name: string; roles?: string }>; master?: string; indices?: Array<{ index: string; shards: number; replicas: number }>; version?: string }) {
    this.version = opts.version ?? '8.13.4';
    this.nodes = opts.nodes.map((n, i) => ({ id: `${n.name.replace(/[^a-z0-9]/gi, '')}Id${'x'.repeat(8)}${i}`.slice(0, 22), name: n.name, roles: n.roles ?? 'cdhimrstw', up: true, port: 0 }));
    this.masterName = opts.master ?? this.nodes.find((n) => n.roles.includes('m'))?.name ?? '';
    const dataNodes = this.nodes.filter((n) => n.roles.includes('d'));
    let k = 0;
    for (const ix of opts.indices ?? [{ index: 'logs-2026.11.30', shards: 3, replicas: 1 }]) {
      for (let s = 0; s < ix.shards; s++) {
        for (let c = 0; c <= ix.replicas; c++) {
          // Two copies of a shard never share a node: a copy with no node left stays unassigned (node '').
          const node = c < dataNodes.length ? dataNodes[(k + c) % dataNodes.length] : undefined;
          this.shards.push({ index: ix.index, shard: s, prirep: c === 0 ? 'p' : 'r', state: node ? 'STARTED' : 'UNASSIGNED', node: node?.name ?? '' });
        }
        k++;
      }
    }
  }

  async start(): Promise<void> {
    for (const n of this.nodes) await this.listen(n);
  }

  url(name: string): string {
    return `http://127.0.0.1:${this.node(name).port}`;
  }

  node(name: string): FakeEsNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no fake es node ${name}`);
    return n;
  }

  health(): Health {
    const copies = new Map<string, FakeShard[]>();
    for (const s of this.shards) copies.set(`${s.index}/${s.shard}`, [...(copies.get(`${s.index}/${s.shard}`) ?? []), s]);
    let h: Health = 'green';
    for (const cs of copies.values()) {
      if (!cs.some((c) => c.prirep === 'p' && c.state !== 'UNASSIGNED' && c.state !== 'INITIALIZING')) return 'red';
      if (cs.some((c) => c.state === 'UNASSIGNED')) h = 'yellow';
    }
    return h;
  }

  allocationEnable(): string {
    const t = this.settings.transient['cluster.routing.allocation.enable'];
    const p = this.settings.persistent['cluster.routing.allocation.enable'];
    return String(t ?? p ?? 'all');
  }

  /** The node's process stops: its copies go unassigned, a started replica elsewhere is promoted. */
  stopNode(name: string): void {
    const n = this.node(name);
    n.up = false;
    const srv = this.servers.get(name);
    if (srv) {
      srv.server.close();
      for (const s of srv.sockets) s.destroy();
      this.servers.delete(name);
    }
    for (const s of this.shards.filter((x) => x.node === name)) {
      if (s.prirep === 'p') {
        const replica = this.shards.find((r) => r.index === s.index && r.shard === s.shard && r.prirep === 'r' && r.state === 'STARTED' && r.node !== name);
        if (replica) {
          replica.prirep = 'p';
          s.prirep = 'r';
        }
      }
      s.state = 'UNASSIGNED';
    }
    if (this.masterName === name) this.masterName = this.nodes.find((x) => x.up && x.roles.includes('m'))?.name ?? '';
  }

  /** The node starts again and joins; its copies recover as far as allocation allows. */
  async startNode(name: string): Promise<void> {
    const n = this.node(name);
    n.up = true;
    await this.listen(n);
    if (!this.masterName) this.masterName = name;
    this.reallocate();
  }

  /** A restart as a service manager does it: stop now, start after `bootMs`. */
  restartNode(name: string, bootMs = 30): void {
    this.stopNode(name);
    this.after(bootMs, () => void this.startNode(name));
  }

  /** Recovers unassigned copies whose node is up, as the allocation setting allows. */
  reallocate(): void {
    const enable = this.allocationEnable();
    for (const s of this.shards) {
      if (s.state !== 'UNASSIGNED' || !s.node || !this.node(s.node).up) continue;
      const primaryMissing = s.prirep === 'p';
      const allowed = enable === 'all' || ((enable === 'primaries' || enable === 'new_primaries') && primaryMissing);
      if (!allowed || (this.stuckReplicas && s.prirep === 'r')) continue;
      s.state = 'INITIALIZING';
      this.after(this.recoveryMs, () => {
        if (s.state === 'INITIALIZING' && this.node(s.node).up) s.state = 'STARTED';
      });
    }
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const { server, sockets } of this.servers.values()) {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
    this.servers.clear();
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private async listen(n: FakeEsNode): Promise<void> {
    const sockets = new Set<Socket>();
    const server = createServer((req, res) => void this.handle(n.name, req, res));
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(n.port, '127.0.0.1', () => resolve());
    });
    n.port = (server.address() as AddressInfo).port;
    this.servers.set(n.name, { server, sockets });
  }

  private healthBody(timedOut: boolean): Record<string, unknown> {
    const count = (st: ShardState, p?: 'p') => this.shards.filter((s) => s.state === st && (!p || s.prirep === p)).length;
    const up = this.nodes.filter((n) => n.up);
    const total = this.shards.length;
    return {
      cluster_name: this.clusterName,
      status: this.health(),
      timed_out: timedOut,
      number_of_nodes: up.length,
      number_of_data_nodes: up.filter((n) => n.roles.includes('d')).length,
      active_primary_shards: count('STARTED', 'p') + count('RELOCATING', 'p'),
      active_shards: count('STARTED') + count('RELOCATING'),
      relocating_shards: count('RELOCATING'),
      initializing_shards: count('INITIALIZING'),
      unassigned_shards: count('UNASSIGNED'),
      unassigned_primary_shards: count('UNASSIGNED', 'p'),
      delayed_unassigned_shards: 0,
      number_of_pending_tasks: 0,
      number_of_in_flight_fetch: 0,
      task_max_waiting_in_queue_millis: 0,
      active_shards_percent_as_number: total ? (100 * (count('STARTED') + count('RELOCATING'))) / total : 100,
    };
  }

  private healthMet(q: URLSearchParams): boolean {
    const ws = q.get('wait_for_status') as Health | null;
    if (ws && RANK[this.health()] < RANK[ws]) return false;
    if (q.get('wait_for_no_relocating_shards') === 'true' && this.shards.some((s) => s.state === 'RELOCATING')) return false;
    if (q.get('wait_for_no_initializing_shards') === 'true' && this.shards.some((s) => s.state === 'INITIALIZING')) return false;
    const wn = q.get('wait_for_nodes');
    if (wn) {
      const m = /^(>=|<=|>|<|ge\(|le\(|gt\(|lt\()?(\d+)\)?$/.exec(wn);
      if (!m) throw Object.assign(new Error(`cannot parse wait_for_nodes [${wn}]`), { status: 400 });
      const want = Number(m[2]);
      const have = this.nodes.filter((x) => x.up).length;
      const op = m[1] ?? '';
      const ok = op.startsWith('>=') || op === 'ge(' ? have >= want : op.startsWith('<=') || op === 'le(' ? have <= want : op === '>' || op === 'gt(' ? have > want : op === '<' || op === 'lt(' ? have < want : have === want;
      if (!ok) return false;
    }
    return true;
  }

  private async handle(self: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      return send(res, 400, esError('parse_exception', 'request body is required to be valid JSON'));
    }
    const method = req.method ?? 'GET';
    this.requests.push({ node: self, method, path: url.pathname + url.search, ...(body === undefined ? {} : { body }) });
    const path = url.pathname.replace(/\/+$/, '') || '/';
    try {
      if (method === 'GET' && path === '/') {
        return send(res, 200, { name: self, cluster_name: this.clusterName, cluster_uuid: 'fXd9hWq3QZ-2mMQ3x2XCeA', version: { number: this.version, build_flavor: 'default' }, tagline: 'You Know, for Search' });
      }
      if (method === 'GET' && path === '/_cluster/health') {
        const timeoutMs = parseEsTime(q.get('timeout') ?? '30s');
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          if (this.healthMet(q)) return send(res, 200, this.healthBody(false));
          if (Date.now() >= deadline) return send(res, 408, this.healthBody(true));
          await new Promise((r) => setTimeout(r, 10));
        }
      }
      if (path === '/_cluster/settings') {
        if (method === 'GET') return send(res, 200, q.get('flat_settings') === 'true' ? this.settings : { persistent: nest(this.settings.persistent), transient: nest(this.settings.transient) });
        if (method === 'PUT') {
          const b = (body ?? {}) as { persistent?: Record<string, unknown>; transient?: Record<string, unknown> };
          for (const scope of ['persistent', 'transient'] as const) {
            for (const [k, v] of Object.entries(flatten(b[scope] ?? {}))) {
              if (k === 'cluster.routing.allocation.enable' && v !== null && !['all', 'primaries', 'new_primaries', 'none'].includes(String(v))) {
                return send(res, 400, esError('illegal_argument_exception', `Illegal allocation.enable value [${String(v).toUpperCase()}]`));
              }
              if (v === null) delete this.settings[scope][k];
              else this.settings[scope][k] = v;
            }
          }
          this.reallocate();
          return send(res, 200, { acknowledged: true, persistent: nest(flatten(b.persistent ?? {})), transient: nest(flatten(b.transient ?? {})) });
        }
      }
      if ((method === 'POST' || method === 'GET') && path === '/_flush') {
        const active = this.shards.filter((s) => s.state === 'STARTED' || s.state === 'RELOCATING').length;
        return send(res, 200, { _shards: { total: this.shards.length, successful: active, failed: 0 } });
      }
      if (method === 'GET' && path === '/_cat/nodes') {
        const rows = this.nodes.filter((n) => n.up).map((n) => ({ id: q.get('full_id') === 'true' ? n.id : n.id.slice(0, 4), name: n.name, ip: '127.0.0.1', 'node.role': n.roles, master: n.name === this.masterName ? '*' : '-' }));
        return send(res, 200, pick(rows, q.get('h')));
      }
      if (method === 'GET' && path === '/_cat/shards') {
        const rows = this.shards.map((s) => ({ index: s.index, shard: String(s.shard), prirep: s.prirep, state: s.state, node: s.state === 'UNASSIGNED' ? null : s.node }));
        return send(res, 200, pick(rows, q.get('h')));
      }
      if (method === 'GET' && path === '/_cluster/state/metadata') {
        // The voting configuration: the master-eligible nodes, whether up or not (ES keeps it while they are away).
        const voting = this.nodes.filter((n) => n.roles.includes('m')).map((n) => n.id);
        return send(res, 200, { metadata: { cluster_coordination: { term: 3, last_committed_config: voting, last_accepted_config: voting, voting_config_exclusions: [] } } });
      }
      if (method === 'GET' && path === '/_nodes/_local') {
        const n = this.node(self);
        return send(res, 200, { _nodes: { total: 1, successful: 1, failed: 0 }, cluster_name: this.clusterName, nodes: { [n.id]: { name: n.name, roles: [...n.roles].map((r) => ROLE_NAMES[r] ?? r), version: this.version } } });
      }
      const sd = /^\/_nodes\/([^/]+)\/shutdown$/.exec(path);
      if (sd) {
        const id = decodeURIComponent(sd[1] as string);
        if (method === 'PUT') {
          const b = (body ?? {}) as { type?: string; reason?: string; allocation_delay?: string };
          if (!b.type || !b.reason) return send(res, 400, esError('action_request_validation_exception', 'Validation Failed: 1: type is required;2: reason is required;'));
          this.shutdowns.set(id, { node_id: id, type: b.type.toUpperCase(), reason: b.reason, ...(b.allocation_delay ? { allocation_delay: b.allocation_delay } : {}), shutdown_startedmillis: Date.now() });
          return send(res, 200, { acknowledged: true });
        }
        if (method === 'GET') {
          const r = this.shutdowns.get(id);
          return send(res, 200, { nodes: r ? [{ ...r, status: 'COMPLETE', shard_migration: { status: 'COMPLETE', shard_migrations_remaining: 0, explanation: 'no shard relocation is necessary for a node restart' }, persistent_tasks: { status: 'COMPLETE' }, plugins: { status: 'COMPLETE' } }] : [] });
        }
        if (method === 'DELETE') {
          if (!this.shutdowns.delete(id)) return send(res, 404, esError('resource_not_found_exception', `node [${id}] is not currently shutting down`));
          return send(res, 200, { acknowledged: true });
        }
      }
      return send(res, 405, esError('illegal_argument_exception', `no handler found for uri [${url.pathname}] and method [${method}]`));
    } catch (err) {
      const status = (err as { status?: number }).status ?? 500;
      return send(res, status, esError('exception', (err as Error).message));
    }
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-elastic-product': 'Elasticsearch' });
  res.end(text);
}

function esError(type: string, reason: string): Record<string, unknown> {
  return { error: { root_cause: [{ type, reason }], type, reason }, status: type === 'resource_not_found_exception' ? 404 : 400 };
}

function parseEsTime(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(s);
  if (!m) throw Object.assign(new Error(`failed to parse setting [timeout] with value [${s}] as a time value`), { status: 400 });
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 'ms'] ?? 1;
  return Number(m[1]) * unit;
}

function pick(rows: Array<Record<string, unknown>>, h: string | null): Array<Record<string, unknown>> {
  if (!h) return rows;
  const cols = h.split(',');
  return rows.map((r) => Object.fromEntries(cols.map((c) => [c, r[c] ?? null])));
}

function flatten(o: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flatten(v as Record<string, unknown>, `${prefix}${k}.`));
    else out[`${prefix}${k}`] = v;
  }
  return out;
}

function nest(flat: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(flat)) {
    const parts = k.split('.');
    let cur = out;
    for (const p of parts.slice(0, -1)) cur = (cur[p] ??= {}) as Record<string, unknown>;
    cur[parts[parts.length - 1] as string] = v;
  }
  return out;
}
