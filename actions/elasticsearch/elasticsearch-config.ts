// The local config of `elasticsearch:restart` (runner --config, `actions: { "elasticsearch:restart": {...} }`):
// where this node's HTTP API is, other nodes to ask while it is down, credentials, the unit, the bounds.
import { z } from 'zod';
import { UNIT_NAME } from '../kit/service-manager.js';
import { durationMs } from '../duration-field.js';

const httpUrl = z.string().regex(/^https?:\/\/[^\s/]+(:\d+)?\/?$/, 'must be a base URL like http://127.0.0.1:9200');

export const elasticsearchRestartConfigSchema = z.strictObject({
  /** This node's HTTP API. */
  url: httpUrl.default('http://127.0.0.1:9200'),
  /** Other nodes (or a load balancer) to ask while this one is down; without them the wait uses `url` only. */
  peer_urls: z.array(httpUrl).default([]),
  /** Basic auth user and a file with its password (never in the config itself). */
  username: z.string().min(1).optional(),
  password_file: z.string().min(1).optional(),
  unit: z.string().regex(UNIT_NAME, 'must be a systemd unit name like elasticsearch').default('elasticsearch'),
  /**
   * How replicas are kept from moving while the node is away: `allocation` sets
   * cluster.routing.allocation.enable to primaries (and back); `shutdown_api` registers a restart with the
   * node shutdown API (ES >= 7.15); `auto` picks the shutdown API where the cluster has it.
   */
  method: z.enum(['auto', 'allocation', 'shutdown_api']).default('allocation'),
  /** Which settings scope the allocation change goes to (ES deprecates transient settings). */
  allocation_scope: z.enum(['persistent', 'transient']).default('persistent'),
  /** Shutdown API: how long the master waits before re-replicating the node's shards elsewhere. */
  allocation_delay: durationMs('10m', { min: '1s', max: '24h' }),
  /** Refuse a yellow cluster too (by default only red is refused, and yellow is held to "no worse"). */
  require_green: z.boolean().default(false),
  /** Each HTTP call; a health wait's own `timeout` stays below it. */
  request_timeout: durationMs('30s', { min: '1s', max: '10m' }),
  /** The node must be back in the cluster within this. */
  rejoin_timeout: durationMs('10m', { min: '1s', max: '6h' }),
  /** The cluster must be back to its health within this, else the attempt fails and says so. */
  recover_timeout: durationMs('30m', { min: '1s', max: '24h' }),
  poll_interval: durationMs('5s', { min: '10ms', max: '5m' }),
  /** The elected master waits for nodes of its task in flight this long before handing its grant on. */
  master_last_wait: durationMs('5m', { min: '0s', max: '6h' }),
});
export type ElasticsearchRestartConfig = z.output<typeof elasticsearchRestartConfigSchema>;
