// A read-only view of who is disrupting each cluster now: the nodes holding a grant, the requests waiting,
// the live runners. The metrics (grants held and waiting, the oldest grant), the "grant held past its
// grace" notification and the web view all read it from here, so they agree.
//
// Today grants are the per-task slot semaphores (<root>/leases/<cluster>/<task_id>/slot-N, `lease.ts`).
// The cluster-wide budget of issue 7 moves them to <root>/clusters/<cluster>/{policy, gate, grants/<node>,
// requests/...}: when it lands, `readClusterGrants` reads those instead (and the policy and the health
// gate are added to `ClusterGrants`), and nothing that consumes this view changes.
import { decodeSegment } from '../coordination/coordinator.js';
import { Semaphore, type SlotInfo } from '../coordination/lease.js';
import { Membership } from '../coordination/membership.js';
import type { TaskStore } from '../task/task-store.js';

export interface Grant {
  node: string;
  taskId: string;
  /** The fencing token of the grant. */
  token: number;
  /** When it was asked for (held grants: at most this long ago it was granted). */
  since: string;
}

export interface ClusterGrants {
  cluster: string;
  held: Grant[];
  /** In the order they will be served. */
  waiting: Grant[];
  /** Live runners of the cluster. */
  members: string[];
}

const toGrant = (s: SlotInfo): Grant => ({ node: s.node, taskId: s.taskId, token: s.fencingToken, since: s.requestedAt });

/** Every cluster that has live runners or grants (held or asked for). */
export async function listClusters(store: TaskStore): Promise<string[]> {
  const c = store.coordinator;
  const names = new Set<string>();
  for (const dir of [store.paths.leases, store.paths.members]) for (const seg of (await c.children(dir)) ?? []) names.add(decodeSegment(seg));
  return [...names].sort();
}

export async function readClusterGrants(store: TaskStore, cluster: string): Promise<ClusterGrants> {
  const c = store.coordinator;
  const held: Grant[] = [];
  const waiting: Grant[] = [];
  for (const seg of (await c.children(store.paths.clusterLeases(cluster))) ?? []) {
    const taskId = decodeSegment(seg);
    const task = await store.getTask(taskId);
    // A task removed by the cleaner may leave an empty directory for a moment: nothing is held there.
    if (!task) continue;
    const slots = await new Semaphore(c, store.paths.taskLeases(cluster, taskId)).inspect(task.value.limit);
    for (const s of slots) (s.holding ? held : waiting).push(toGrant(s));
  }
  const byTime = (a: Grant, b: Grant) => a.since.localeCompare(b.since) || a.token - b.token;
  const members = (await new Membership(c, store.paths).list(cluster)).map((m) => m.node);
  return { cluster, held: held.sort(byTime), waiting: waiting.sort(byTime), members };
}

export async function readAllGrants(store: TaskStore): Promise<ClusterGrants[]> {
  const out: ClusterGrants[] = [];
  for (const cluster of await listClusters(store)) out.push(await readClusterGrants(store, cluster));
  return out;
}
