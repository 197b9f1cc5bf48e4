// The local config of the Cassandra actions (runner --config, `actions: { "cassandra:restart": {...},
// "cassandra:repair": {...} }`): how to run nodetool against this node and its peers, the unit, and the
// thresholds. Defaults are the ones of the tools this follows (research notes: AxonOps, Reaper, OpsCenter).
import { z } from 'zod';
import { UNIT_NAME } from '../kit/service-manager.js';
import { durationMs } from '../duration-field.js';

const nodetoolFields = {
  /** argv prefix of nodetool: [nodetool], [/opt/cassandra/bin/nodetool], [sudo, -n, -u, cassandra, nodetool]. */
  nodetool: z.array(z.string().min(1)).min(1).default(['nodetool']),
  /** JMX port of every node (-p); default nodetool's own (7199). */
  jmx_port: z.number().int().min(1).max(65535).optional(),
  /** JMX user (-u) and a file holding its password (-pwf): the password never goes on a command line. */
  jmx_username: z.string().min(1).optional(),
  jmx_password_file: z.string().min(1).optional(),
  /** Extra environment for nodetool (JAVA_HOME, ...). */
  env: z.record(z.string(), z.string()).default({}),
  /** Ask one peer for its view too (`nodetool -h <peer> status`): needs remote JMX. Default true. */
  peer_check: z.boolean().default(true),
  /** Bound of each nodetool call that should answer at once. */
  command_timeout: durationMs('60s', { min: '1s', max: '30m' }),
  /** Pause between two looks while waiting. */
  poll_interval: durationMs('5s', { min: '10ms', max: '5m' }),
};

export const cassandraRestartConfigSchema = z.strictObject({
  ...nodetoolFields,
  /** The systemd unit. */
  unit: z.string().regex(UNIT_NAME, 'must be a systemd unit name like cassandra or cassandra.service').default('cassandra'),
  /** `nodetool drain` may take this long (AxonOps uses 300 s); a drain that hangs past it is reported. */
  drain_timeout: durationMs('300s', { min: '1s', max: '2h' }),
  /** After a hung drain, restart anyway (cass-operator does) instead of stopping with the node half-drained. */
  restart_after_hung_drain: z.boolean().default(false),
  /** How long the node may take to be UN from a peer with gossip and native transport running again. */
  up_timeout: durationMs('10m', { min: '1s', max: '6h' }),
  /** The node must stay up this long before the grant is released (OpsCenter waits 60 s; scripts 15 s). */
  settle: durationMs('15s', { max: '30m' }),
});
export type CassandraRestartConfig = z.output<typeof cassandraRestartConfigSchema>;

export const cassandraRepairConfigSchema = z.strictObject({
  ...nodetoolFields,
  /** Refuse while any node has more pending compactions than this (Reaper's maxPendingCompactions). */
  max_pending_compactions: z.number().int().min(0).default(20),
  /** A repair running longer is hung: it is cancelled (Reaper's hangingRepairTimeoutMins, example 30). */
  repair_timeout: durationMs('30m', { min: '1s', max: '24h' }),
  /** nodetool arguments that cancel this node's repair sessions (stopping validation fails them). */
  cancel: z.array(z.string().min(1)).min(1).default(['stop', '--', 'VALIDATION']),
  /** Upper bound of the intensity pause after a repair. */
  max_pause: durationMs('1h', { max: '24h' }),
});
export type CassandraRepairConfig = z.output<typeof cassandraRepairConfigSchema>;

export type NodetoolConfig = Pick<CassandraRestartConfig, 'nodetool' | 'jmx_port' | 'jmx_username' | 'jmx_password_file' | 'env' | 'peer_check' | 'command_timeout' | 'poll_interval'>;
