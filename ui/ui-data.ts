// What the web view shows, read from ZooKeeper (and the dead-letter queues), shaped as JSON the page renders
// (snake_case keys, ISO-8601 times with milliseconds). Read-only: nothing here writes.
import { readAllGrants, type ClusterGrants } from '../core/grants/grant-view.js';
import { deadLetterQueues, listDeadLetters } from '../core/queue/dead-letters.js';
import type { QueueNames } from '../core/queue/queue-names.js';
import type { WorkQueue } from '../core/queue/work-queue.js';
import type { NodeRecord, TaskRecord } from '../core/task/task.js';
import type { Progress, TaskStore } from '../core/task/task-store.js';

export interface TaskSummaryJson {
  task_id: string;
  name: string;
  action: string;
  cluster: string;
  state: string;
  reason: string | null;
  paused: boolean;
  emitted_by: string;
  emitted_at: string;
  ended_at: string | null;
  targets: number;
  limit: number;
  progress: { succeeded: number; dead: number; skipped: number; terminal: number };
}

export function taskSummary(t: TaskRecord, p: Progress | undefined): TaskSummaryJson {
  return {
    task_id: t.taskId,
    name: String(t.spec.name),
    action: String(t.spec.action),
    cluster: String(t.spec.cluster),
    state: t.state,
    reason: t.reason ?? null,
    paused: Boolean(t.paused),
    emitted_by: `${t.emittedBy.kind}:${t.emittedBy.user}`,
    emitted_at: t.emittedAt,
    ended_at: t.endedAt ?? null,
    targets: t.targetCount,
    limit: t.limit,
    progress: { succeeded: p?.SUCCEEDED ?? 0, dead: p?.DEAD ?? 0, skipped: p?.SKIPPED ?? 0, terminal: p?.terminal ?? 0 },
  };
}

export interface AttemptJson {
  attempt: number;
  started_at: string;
  ended_at: string | null;
  /** succeeded, failed, interrupted (runner died, grant lost: not counted), running, or cancelled. */
  outcome: string;
  error: string | null;
}

function attemptOutcome(n: NodeRecord, h: NodeRecord['history'][number]): string {
  if (!h.endedAt) return 'running';
  if (h.error) return h.counted === false ? 'interrupted' : 'failed';
  if (n.state === 'SKIPPED' && h.attempt === n.attempts) return 'cancelled';
  return 'succeeded';
}

export function nodeJson(n: NodeRecord) {
  return {
    node: n.node,
    state: n.state,
    attempts: n.attempts,
    started_at: n.startedAt ?? null,
    ended_at: n.endedAt ?? null,
    updated_at: n.updatedAt,
    error: n.error ?? null,
    reason: n.reason ?? null,
    history: n.history.map((h): AttemptJson => ({ attempt: h.attempt, started_at: h.startedAt, ended_at: h.endedAt ?? null, outcome: attemptOutcome(n, h), error: h.error ?? null })),
  };
}

export function clusterJson(g: ClusterGrants) {
  const grant = (x: ClusterGrants['held'][number]) => ({ node: x.node, task_id: x.taskId, token: x.token, since: x.since });
  return { cluster: g.cluster, held: g.held.map(grant), waiting: g.waiting.map(grant), members: g.members };
}

export interface DeadLetterJson {
  queue: string;
  id: string;
  task_id: string | null;
  node: string | null;
  code: string;
  reason: string;
  attempts: number | null;
  dead_at: string | null;
}

export interface UiSources {
  store: TaskStore;
  queue: WorkQueue;
  names: QueueNames;
}

export async function readTaskList(s: UiSources, last: number): Promise<TaskSummaryJson[]> {
  return (await s.store.recentTasks(last)).map(({ task, progress }) => taskSummary(task, progress));
}

export async function readTaskDetail(s: UiSources, taskId: string) {
  const t = await s.store.getTask(taskId);
  if (!t) return undefined;
  const [nodes, progress] = await Promise.all([s.store.listNodes(taskId), s.store.getProgress(taskId)]);
  // An explicit node list kept out of the record (nodesDigest) is the target list: the node records' names.
  const spec = t.value.nodesDigest === undefined ? t.value.spec : { ...t.value.spec, nodes: (await s.store.getTargets(taskId)) ?? nodes.map((n) => n.node) };
  return { task: { ...taskSummary(t.value, progress), spec, routed_at: t.value.routedAt ?? null }, nodes: nodes.map(nodeJson), now: new Date().toISOString() };
}

export async function readClusters(s: UiSources) {
  return (await readAllGrants(s.store)).map(clusterJson);
}

/** Reads the dead letters without consuming them (each is made visible again at once; see dead-letters.ts). */
export async function readDeadLetters(s: UiSources, max = 200): Promise<DeadLetterJson[]> {
  const queues = await deadLetterQueues(s.queue, s.names);
  const all = await listDeadLetters(s.queue, queues, {}, max);
  return all
    .map((d) => ({ queue: d.queue, id: d.id, task_id: d.taskId ?? null, node: d.node ?? null, code: d.code, reason: d.reason, attempts: d.attempts ?? null, dead_at: d.deadAt ?? null }))
    .sort((a, b) => (b.dead_at ?? '').localeCompare(a.dead_at ?? ''));
}
