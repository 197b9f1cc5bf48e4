// The local config of `kafka:restart` (runner --config, `actions: { "kafka:restart": {...} }`): this broker's
// id, its unit, how to reach the cluster's admin API (Kafka's own CLI tools on the broker host), and bounds.
import { z } from 'zod';
import { UNIT_NAME } from '../kit/service-manager.js';
import { durationMs } from '../duration-field.js';

export const kafkaRestartConfigSchema = z.strictObject({
  /** This broker's id (broker.id / node.id in server.properties). */
  broker_id: z.number({ error: 'must be this broker\'s id (broker.id or node.id in server.properties)' }).int().min(0),
  unit: z.string().regex(UNIT_NAME, 'must be a systemd unit name like kafka').default('kafka'),
  /** Where Kafka's scripts are (kafka-topics.sh, kafka-configs.sh, kafka-metadata-quorum.sh, kafka-broker-api-versions.sh). */
  bin_dir: z.string().min(1).default('/opt/kafka/bin'),
  /** Brokers to ask: include others than this one, since this one is down during the restart. */
  bootstrap_servers: z.string().regex(/^[^\s,]+:\d+(,[^\s,]+:\d+)*$/, 'must be host:port[,host:port...]').default('localhost:9092'),
  /**
   * ZooKeeper-mode clusters (before KRaft): the cluster's ZooKeeper, where the active controller is read
   * (zookeeper-shell.sh <zk> get /controller). Leave it out for KRaft: the controller is the metadata quorum's
   * leader (kafka-metadata-quorum.sh describe --status).
   */
  zookeeper_connect: z.string().regex(/^[^\s,]+:\d+(,[^\s,]+:\d+)*(\/[^\s]*)?$/, 'must be host:port[,host:port...][/chroot]').optional(),
  /** A client properties file (TLS, SASL credentials) passed as --command-config. */
  command_config: z.string().min(1).optional(),
  /** Environment for the scripts (JAVA_HOME, KAFKA_HEAP_OPTS, ...). */
  env: z.record(z.string(), z.string()).default({}),
  command_timeout: durationMs('60s', { min: '1s', max: '30m' }),
  poll_interval: durationMs('5s', { min: '10ms', max: '5m' }),
  /** The broker must be registered again within this (Strimzi's operationTimeoutMs is 5 min). */
  ready_timeout: durationMs('5m', { min: '1s', max: '6h' }),
  /** It must be back in every ISR, with no partition under-replicated, within this. */
  isr_timeout: durationMs('10m', { min: '1s', max: '24h' }),
  /** The active controller waits for brokers of its task in flight this long before handing its grant on. */
  controller_last_wait: durationMs('5m', { min: '0s', max: '6h' }),
});
export type KafkaRestartConfig = z.output<typeof kafkaRestartConfigSchema>;
