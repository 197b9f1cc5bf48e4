// The runner config's `actions:` section: one entry per built-in action that needs local knowledge (units,
// endpoints, paths, credentials), validated with each action's own schema at start (unknown keys refused,
// the field named). An action left out is still registered, so that a router validates its tasks anywhere,
// and refuses to run on a node that does not configure it.
import { z } from 'zod';
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
});
export type ActionsConfig = z.infer<typeof actionsConfigSchema>;
