// The Elasticsearch REST calls `elasticsearch:restart` makes, typed to the fields it reads, over the kit's
// HTTP JSON client. `any()` asks this node first, then the peers: while this node is down the cluster is
// still there to ask.
import { TaskermanError } from '../../core/errors.js';
import { httpJson } from '../kit/http-json.js';
import type { ElasticsearchRestartConfig } from './elasticsearch-config.js';

export interface ClusterHealth {
  cluster_name: string;
  status: 'green' | 'yellow' | 'red';
  timed_out: boolean;
  number_of_nodes: number;
  relocating_shards: number;
  initializing_shards: number;
  unassigned_shards: number;
  number_of_in_flight_fetch: number;
}

export interface CatNode {
  id: string;
  name: string;
  'node.role': string;
  master: string;
}

export interface CatShard {
  index: string;
  shard: string;
  prirep: 'p' | 'r';
  state: 'STARTED' | 'INITIALIZING' | 'RELOCATING' | 'UNASSIGNED';
  node: string | null;
}

export const ALLOCATION_ENABLE = 'cluster.routing.allocation.enable';

export class EsClient {
  constructor(
    private readonly cfg: ElasticsearchRestartConfig,
    private readonly signal: AbortSignal,
    private readonly password: string | undefined,
  ) {}

  private headers(): Record<string, string> {
    if (!this.cfg.username) return {};
    return { authorization: `Basic ${Buffer.from(`${this.cfg.username}:${this.password ?? ''}`).toString('base64')}` };
  }

  async call<T>(base: string, method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown, acceptStatus: number[] = []): Promise<{ status: number; body: T }> {
    return httpJson<T>(`${base.replace(/\/$/, '')}${path}`, { method, ...(body === undefined ? {} : { body }), headers: this.headers(), signal: this.signal, timeoutMs: this.cfg.request_timeout, acceptStatus });
  }

  /** This node first, then each peer: the first that answers. */
  async any<T>(method: 'GET' | 'PUT' | 'POST' | 'DELETE', path: string, body?: unknown, acceptStatus: number[] = []): Promise<{ status: number; body: T }> {
    let last: unknown;
    for (const base of [this.cfg.url, ...this.cfg.peer_urls]) {
      try {
        return await this.call<T>(base, method, path, body, acceptStatus);
      } catch (err) {
        if (this.signal.aborted) throw err;
        // An HTTP error is the cluster's answer, not an unreachable node: do not ask the next one.
        if (err instanceof TaskermanError && err.context.status !== undefined) throw err;
        last = err;
      }
    }
    throw last instanceof Error ? last : new TaskermanError('ACTION_FAILED', 'no Elasticsearch node answered');
  }

  /** Cluster health; a wait that timed out answers 408 with timed_out: true, which is returned, not thrown. */
  async health(params: Record<string, string> = {}): Promise<ClusterHealth> {
    const q = new URLSearchParams(params).toString();
    return (await this.any<ClusterHealth>('GET', `/_cluster/health${q ? `?${q}` : ''}`, undefined, [408])).body;
  }

  async nodes(): Promise<CatNode[]> {
    return (await this.any<CatNode[]>('GET', '/_cat/nodes?format=json&full_id=true&h=id,name,node.role,master')).body;
  }

  async shards(): Promise<CatShard[]> {
    return (await this.any<CatShard[]>('GET', '/_cat/shards?format=json&h=index,shard,prirep,state,node')).body;
  }

  /** The flat persistent and transient values of one setting (undefined: not set, the default applies). */
  async setting(key: string): Promise<{ persistent: string | undefined; transient: string | undefined }> {
    const b = (await this.any<{ persistent?: Record<string, unknown>; transient?: Record<string, unknown> }>('GET', '/_cluster/settings?flat_settings=true')).body;
    const v = (x: unknown) => (x === undefined || x === null ? undefined : String(x));
    return { persistent: v(b.persistent?.[key]), transient: v(b.transient?.[key]) };
  }

  /** Sets (or with null resets) one setting in one scope. */
  async putSetting(scope: 'persistent' | 'transient', key: string, value: string | null): Promise<void> {
    await this.any('PUT', '/_cluster/settings', { [scope]: { [key]: value } });
  }

  /** The voting configuration: ids of the master-eligible nodes the cluster counts on. */
  async votingConfig(): Promise<string[]> {
    const b = (await this.any<{ metadata?: { cluster_coordination?: { last_committed_config?: string[] } } }>('GET', '/_cluster/state/metadata?filter_path=metadata.cluster_coordination.last_committed_config')).body;
    return b.metadata?.cluster_coordination?.last_committed_config ?? [];
  }

  /** This node's id, name and version, from its own API. */
  async local(): Promise<{ id: string; name: string; version: string; masterEligible: boolean }> {
    const b = (await this.call<{ nodes: Record<string, { name: string; roles: string[]; version: string }> }>(this.cfg.url, 'GET', '/_nodes/_local')).body;
    const [id, n] = Object.entries(b.nodes)[0] ?? [];
    if (!id || !n) throw new TaskermanError('CHECK_FAILED', `${this.cfg.url}/_nodes/_local names no node`);
    return { id, name: n.name, version: n.version, masterEligible: n.roles.includes('master') };
  }
}

/** "8.13.4" >= "7.15.0". */
export function versionAtLeast(v: string, want: [number, number]): boolean {
  const [a = 0, b = 0] = v.split('.').map((x) => Number.parseInt(x, 10));
  return a > want[0] || (a === want[0] && b >= want[1]);
}
