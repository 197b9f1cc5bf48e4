// The built-in actions. A router needs every action's name and argument schema to validate tasks; a runner
// additionally needs its local config (exec allowlist, the `actions:` section) and its ports (the service
// manager, what the task store knows of other nodes), which only it has.
import { createCassandraRepairAction } from './cassandra/cassandra-repair.js';
import { createCassandraRestartAction } from './cassandra/cassandra-restart.js';
import { createElasticsearchRestartAction } from './elasticsearch/elasticsearch-restart.js';
import { createExecAction, type ExecAllowlist } from './exec.js';
import { KafkaCliAdmin } from './kafka/kafka-cli-admin.js';
import { createKafkaRestartAction } from './kafka/kafka-restart.js';
import { noPeers, peersFromTaskNodes } from './task-peers.js';
import { createHostRebootAction, type NodeActivity } from './host/reboot.js';
import { MemoryServiceManager } from './kit/memory-service-manager.js';
import type { ServiceManager } from './kit/service-manager.js';
import { noopAction } from './noop.js';
import { createPostgresBackupAction } from './postgres/backup.js';
import { createRedisBackupAction } from './redis/backup.js';
import { ActionRegistry } from './registry.js';
import { sleepAction } from './sleep.js';
import { createSystemdRestartAction } from './systemd/restart.js';
import { createZookeeperRestartAction, type TaskNodes } from './zookeeper/restart.js';
import type { ActionsConfig } from './actions-config.js';
import type { AnyAction } from './action.js';

export interface BuiltinDeps {
  /** systemd on a node; a MemoryServiceManager in tests. Default: one with no units (nothing to restart). */
  serviceManager?: ServiceManager;
  /** host:reboot asks it whether other tasks are in flight on the node. */
  nodeActivity?: NodeActivity;
  /** zookeeper:restart, elasticsearch:restart and kafka:restart ask it which nodes of their task are not done yet (the leader, master or controller goes last). */
  taskNodes?: TaskNodes;
}

export function builtinActions(opts: { execAllowlist?: ExecAllowlist; actions?: ActionsConfig; deps?: BuiltinDeps } = {}): AnyAction[] {
  const c = opts.actions ?? {};
  const d = opts.deps ?? {};
  const serviceManager = d.serviceManager ?? new MemoryServiceManager();
  const peers = d.taskNodes ? peersFromTaskNodes(d.taskNodes) : noPeers;
  return [
    noopAction,
    sleepAction,
    createExecAction(opts.execAllowlist ?? {}),
    createSystemdRestartAction(c['systemd:restart'], serviceManager),
    createHostRebootAction(c['host:reboot'], { serviceManager, ...(d.nodeActivity ? { nodeActivity: d.nodeActivity } : {}) }),
    createZookeeperRestartAction(c['zookeeper:restart'], { serviceManager, ...(d.taskNodes ? { taskNodes: d.taskNodes } : {}) }),
    createPostgresBackupAction(c['postgres:backup']),
    createRedisBackupAction(c['redis:backup']),
    createCassandraRestartAction({ config: c['cassandra:restart'], services: serviceManager }),
    createCassandraRepairAction({ config: c['cassandra:repair'] }),
    createElasticsearchRestartAction({ config: c['elasticsearch:restart'], services: serviceManager, peers }),
    createKafkaRestartAction({ config: c['kafka:restart'], services: serviceManager, peers, admin: (cfg) => new KafkaCliAdmin(cfg) }),
  ];
}

export function builtinRegistry(opts: { execAllowlist?: ExecAllowlist; actions?: ActionsConfig; deps?: BuiltinDeps; extra?: AnyAction[] } = {}): ActionRegistry {
  return new ActionRegistry([...builtinActions(opts), ...(opts.extra ?? [])]);
}
