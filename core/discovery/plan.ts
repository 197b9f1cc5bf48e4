// A plan: what a task would do, without enqueuing anything — its resolved targets, its limit and failure
// budget as numbers, which targets have a live runner, and which of the cluster's slots are held now.
import { decodeSegment } from '../coordination/coordinator.js';
import { resolveTargets, type DiscoveryMap } from './discovery.js';
import { Semaphore, type SlotInfo } from '../coordination/lease.js';
import { Membership } from '../coordination/membership.js';
import { resolveLimit, type TaskSpec } from '../task/task-spec.js';
import type { TaskStore } from '../task/task-store.js';

export interface Plan {
  cluster: string;
  action: string;
  discovery: string;
  targets: string[];
  limit: number;
  maxFailures: number;
  live: string[];
  notLive: string[];
  /** Slots of every task on this cluster right now, holders first. */
  slots: SlotInfo[];
}

export async function planTask(spec: TaskSpec, discovery: DiscoveryMap, store: TaskStore): Promise<Plan> {
  const targets = await resolveTargets(spec, discovery);
  const members = new Set((await new Membership(store.coordinator, store.paths).list(spec.cluster)).map((m) => m.node));
  const slots: SlotInfo[] = [];
  const dir = store.paths.clusterLeases(spec.cluster);
  for (const seg of (await store.coordinator.children(dir)) ?? []) {
    const taskId = decodeSegment(seg);
    const limit = (await store.getTask(taskId))?.value.limit ?? 0;
    slots.push(...(await new Semaphore(store.coordinator, `${dir}/${seg}`).inspect(limit)));
  }
  return {
    cluster: spec.cluster,
    action: spec.action,
    discovery: spec.discovery,
    targets,
    limit: resolveLimit(spec.limit, targets.length),
    maxFailures: resolveLimit(spec.maxFailures, targets.length),
    live: targets.filter((t) => members.has(t)),
    notLive: targets.filter((t) => !members.has(t)),
    slots: slots.sort((a, b) => Number(b.holding) - Number(a.holding) || a.fencingToken - b.fencingToken),
  };
}

export function planText(p: Plan): string {
  const lines = [
    `${p.action} on ${p.cluster} (discovery ${p.discovery}): ${p.targets.length} target(s), limit ${p.limit}, max_failures ${p.maxFailures}`,
    `  targets:      ${p.targets.join(', ')}`,
    `  live runners: ${p.live.length}/${p.targets.length}${p.notLive.length ? ` (no live runner: ${p.notLive.join(', ')})` : ''}`,
  ];
  const held = p.slots.filter((s) => s.holding);
  const waiting = p.slots.filter((s) => !s.holding);
  lines.push(`  slots held now on ${p.cluster}: ${held.length ? held.map((s) => `${s.node} (task ${s.taskId})`).join(', ') : 'none'}${waiting.length ? `; ${waiting.length} waiting` : ''}`);
  lines.push('nothing was enqueued (plan only)');
  return lines.join('\n');
}
