// The ZooKeeper layout, in one place (DESIGN.md "ZooKeeper layout"):
//   <root>/tasks/<task_id>                       task record (JSON)
//   <root>/tasks/<task_id>/fanout                ephemeral: a router is fanning this task out
//   <root>/tasks/<task_id>/control               rewritten with every change a runner must act on (pause, resume,
//                                                  halt, cancel, limit): runners watch it, not the task record
//   <root>/tasks/<task_id>/started               empty, persistent: a node of the task has started
//   <root>/tasks/<task_id>/ended/<shard>-<s>-<d>-<k>  empty: the shard is complete, with its counts (end markers)
//   <root>/tasks/<task_id>/progress              counts of terminal nodes, kept in step with the node records:
//   <root>/tasks/<task_id>/progress/<n>            split in shards by node name (a task recorded before the split
//                                                  keeps its counts in the progress znode itself)
//   <root>/tasks/<task_id>/nodes/<node>          node record (JSON)
//   <root>/tasks/<task_id>/nodes/<node>/owner    ephemeral: a runner is working on this node
//   <root>/tasks/<task_id>/targets/<nnnnn>       the task's target nodes, in chunks (JSON lists), in order
//   <root>/members/<cluster>/<node>              ephemeral: a live runner
//   <root>/clusters/<cluster>/policy             the cluster's budget policy (`taskerman policy apply`)
//   <root>/clusters/<cluster>/gate               the budget's ledger: its version is the CAS point of every grant
//   <root>/clusters/<cluster>/waiting            the keeper's view of the waiting requests and why (display only)
//   <root>/clusters/<cluster>/grants/<node>      persistent: this node is disrupted (task or hold), until post_check
//   <root>/clusters/<cluster>/requests/req-N     ephemeral sequential: a node waiting for a grant
//   <root>/clusters/<cluster>/nodes/<node>       persistent: a node known to the cluster (zone, last seen)
//   <root>/clusters/<cluster>/keepers/k-N        ephemeral sequential: the election of the cluster's gate keeper
//   <root>/clusters/<cluster>/events/e-N         persistent sequential: grants released by people or routers, why
//   <root>/task-index/<emitted>~<task_id>        empty: every task by when it was emitted, for `tasks`
//   <root>/tombstones/<task_id>                  a finished task marked for deletion by the cleaner
//   <root>/cleaner                               ephemeral: the cleaner running now
// Names we do not choose (clusters, nodes) are URI-encoded, so "/" can never escape a level.
import { encodeSegment, joinPath } from './coordinator.js';
import { OptionError } from '../errors.js';

export interface ZkPaths {
  root: string;
  tasks: string;
  task(taskId: string): string;
  fanout(taskId: string): string;
  control(taskId: string): string;
  started(taskId: string): string;
  ended(taskId: string): string;
  progress(taskId: string): string;
  progressShard(taskId: string, shard: number): string;
  nodes(taskId: string): string;
  node(taskId: string, node: string): string;
  owner(taskId: string, node: string): string;
  targets(taskId: string): string;
  targetChunk(taskId: string, index: number): string;
  taskIndex: string;
  taskIndexEntry(taskId: string, emittedAt: string): string;
  members: string;
  tombstones: string;
  tombstone(taskId: string): string;
  cleaner: string;
  clusterMembers(cluster: string): string;
  member(cluster: string, node: string): string;
  clusters: string;
  cluster(cluster: string): string;
  policy(cluster: string): string;
  gate(cluster: string): string;
  waiting(cluster: string): string;
  grants(cluster: string): string;
  grant(cluster: string, node: string): string;
  requests(cluster: string): string;
  knownNodes(cluster: string): string;
  knownNode(cluster: string, node: string): string;
  keepers(cluster: string): string;
  events(cluster: string): string;
}

/** 20261121T020000000Z: sorts as the time it names (any ISO offset normalised to UTC); zeros if unparsable. */
function compactTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '00000000T000000000Z' : new Date(t).toISOString().replace(/[-:.]/g, '');
}

export function validateZkRoot(root: string): string {
  if (!/^\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(root)) {
    throw new OptionError('zk-root', `"${root}" must be an absolute ZooKeeper path like "/taskerman"`);
  }
  return root;
}

export function zkPaths(root = '/taskerman'): ZkPaths {
  validateZkRoot(root);
  const tasks = joinPath(root, 'tasks');
  const members = joinPath(root, 'members');
  const task = (id: string) => joinPath(tasks, encodeSegment(id));
  const nodes = (id: string) => joinPath(task(id), 'nodes');
  const node = (id: string, n: string) => joinPath(nodes(id), encodeSegment(n));
  const clusterMembers = (c: string) => joinPath(members, encodeSegment(c));
  const clusters = joinPath(root, 'clusters');
  const cluster = (c: string) => joinPath(clusters, encodeSegment(c));
  return {
    root,
    tasks,
    task,
    fanout: (id) => joinPath(task(id), 'fanout'),
    control: (id) => joinPath(task(id), 'control'),
    started: (id) => joinPath(task(id), 'started'),
    ended: (id) => joinPath(task(id), 'ended'),
    progress: (id) => joinPath(task(id), 'progress'),
    progressShard: (id, shard) => joinPath(task(id), 'progress', String(shard)),
    nodes,
    node,
    owner: (id, n) => joinPath(node(id, n), 'owner'),
    taskIndex: joinPath(root, 'task-index'),
    taskIndexEntry: (id, emittedAt) => joinPath(root, 'task-index', `${compactTime(emittedAt)}~${encodeSegment(id)}`),
    targets: (id) => joinPath(task(id), 'targets'),
    targetChunk: (id, i) => joinPath(task(id), 'targets', String(i).padStart(5, '0')),
    members,
    tombstones: joinPath(root, 'tombstones'),
    tombstone: (id) => joinPath(root, 'tombstones', encodeSegment(id)),
    cleaner: joinPath(root, 'cleaner'),
    clusterMembers,
    member: (c, n) => joinPath(clusterMembers(c), encodeSegment(n)),
    clusters,
    cluster,
    policy: (c) => joinPath(cluster(c), 'policy'),
    gate: (c) => joinPath(cluster(c), 'gate'),
    waiting: (c) => joinPath(cluster(c), 'waiting'),
    grants: (c) => joinPath(cluster(c), 'grants'),
    grant: (c, n) => joinPath(cluster(c), 'grants', encodeSegment(n)),
    requests: (c) => joinPath(cluster(c), 'requests'),
    knownNodes: (c) => joinPath(cluster(c), 'nodes'),
    knownNode: (c, n) => joinPath(cluster(c), 'nodes', encodeSegment(n)),
    keepers: (c) => joinPath(cluster(c), 'keepers'),
    events: (c) => joinPath(cluster(c), 'events'),
  };
}
