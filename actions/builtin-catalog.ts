// The built-in actions by name, each loaded on its own: what the CLI needs to check one task's action and
// arguments before enqueuing it (cli/check-action.ts). `run noop` loads noop, not the Cassandra,
// Elasticsearch, Kafka, PostgreSQL and Redis code (~35 modules and their schemas). Each is built as
// builtinActions() builds it without a runner config; builtin.ts stays the set a daemon runs, and a unit test
// holds the two equal (names, versions, argument schemas).
import type { AnyAction } from './action.js';
import type { ServiceManager } from './kit/service-manager.js';
import { noPeers } from './task-peers.js';

/** The service manager builtinActions() gives actions when none is configured: one with no units. */
async function noUnits(): Promise<ServiceManager> {
  return new (await import('./kit/memory-service-manager.js')).MemoryServiceManager();
}

const LOADERS: Readonly<Record<string, () => Promise<AnyAction>>> = {
  noop: async () => (await import('./noop.js')).noopAction,
  sleep: async () => (await import('./sleep.js')).sleepAction,
  exec: async () => (await import('./exec.js')).createExecAction({}),
  'systemd:restart': async () => (await import('./systemd/restart.js')).createSystemdRestartAction(undefined, await noUnits()),
  'host:reboot': async () => (await import('./host/reboot.js')).createHostRebootAction(undefined, { serviceManager: await noUnits() }),
  'zookeeper:restart': async () => (await import('./zookeeper/restart.js')).createZookeeperRestartAction(undefined, { serviceManager: await noUnits() }),
  'postgres:backup': async () => (await import('./postgres/backup.js')).createPostgresBackupAction(undefined),
  'redis:backup': async () => (await import('./redis/backup.js')).createRedisBackupAction(undefined),
  'cassandra:restart': async () => (await import('./cassandra/cassandra-restart.js')).createCassandraRestartAction({ config: undefined, services: await noUnits() }),
  'cassandra:repair': async () => (await import('./cassandra/cassandra-repair.js')).createCassandraRepairAction({ config: undefined }),
  'elasticsearch:restart': async () =>
    (await import('./elasticsearch/elasticsearch-restart.js')).createElasticsearchRestartAction({ config: undefined, services: await noUnits(), peers: noPeers }),
  'kafka:restart': async () => {
    const [{ createKafkaRestartAction }, { KafkaCliAdmin }] = await Promise.all([import('./kafka/kafka-restart.js'), import('./kafka/kafka-cli-admin.js')]);
    return createKafkaRestartAction({ config: undefined, services: await noUnits(), peers: noPeers, admin: (cfg) => new KafkaCliAdmin(cfg) });
  },
};

/** The names of the built-in actions, sorted (as the registry lists them). */
export const BUILTIN_ACTION_NAMES: readonly string[] = Object.keys(LOADERS).sort();

/** The built-in action `name`, loaded alone; undefined when no built-in action has that name. */
export async function loadBuiltinAction(name: string): Promise<AnyAction | undefined> {
  const load = Object.hasOwn(LOADERS, name) ? LOADERS[name] : undefined;
  return load?.();
}
