// The runner config's `actions:` section: one entry per built-in action that needs local knowledge (units,
// endpoints, paths, credentials), validated with each action's own schema at start (unknown keys refused,
// the field named). An action left out is still registered, so that a router validates its tasks anywhere,
// and refuses to run on a node that does not configure it.
import { z } from 'zod';
import { cassandraRepairConfigSchema, cassandraRestartConfigSchema } from './cassandra/cassandra-config.js';
import { CASSANDRA_REPAIR } from './cassandra/cassandra-repair.js';
import { CASSANDRA_RESTART } from './cassandra/cassandra-restart.js';
import { elasticsearchRestartConfigSchema } from './elasticsearch/elasticsearch-config.js';
import { ELASTICSEARCH_RESTART } from './elasticsearch/elasticsearch-restart.js';
import { kafkaRestartConfigSchema } from './kafka/kafka-config.js';
import { KAFKA_RESTART } from './kafka/kafka-restart.js';
import { HOST_REBOOT, hostRebootConfigSchema } from './host/reboot.js';
import { POSTGRES_BACKUP, postgresBackupConfigSchema } from './postgres/backup.js';
import { REDIS_BACKUP, redisBackupConfigSchema } from './redis/backup.js';
import { SYSTEMD_RESTART, systemdRestartConfigSchema } from './systemd/restart.js';
import { ZOOKEEPER_RESTART, zookeeperRestartConfigSchema } from './zookeeper/restart.js';

export const actionsConfigSchema = z.strictObject({
  [SYSTEMD_RESTART]: systemdRestartConfigSchema.optional(),
  [HOST_REBOOT]: hostRebootConfigSchema.optional(),
  [ZOOKEEPER_RESTART]: zookeeperRestartConfigSchema.optional(),
  [POSTGRES_BACKUP]: postgresBackupConfigSchema.optional(),
  [REDIS_BACKUP]: redisBackupConfigSchema.optional(),
  [CASSANDRA_RESTART]: cassandraRestartConfigSchema.optional(),
  [CASSANDRA_REPAIR]: cassandraRepairConfigSchema.optional(),
  [ELASTICSEARCH_RESTART]: elasticsearchRestartConfigSchema.optional(),
  [KAFKA_RESTART]: kafkaRestartConfigSchema.optional(),
});
export type ActionsConfig = z.infer<typeof actionsConfigSchema>;
