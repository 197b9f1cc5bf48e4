// The circuit breaker: once `max_failures` nodes of a task are DEAD (counted since its last resume), the task
// is halted and no further node starts. Called by whoever makes a node DEAD, before the node's slot is
// given up.
import type { TaskRecord } from './task.js';
import type { TaskStore } from './task-store.js';

/** Halts the task if its failure budget is spent; returns the record when this call halted it. */
export async function tripBreaker(store: TaskStore, taskId: string): Promise<TaskRecord | undefined> {
  const task = (await store.getTask(taskId))?.value;
  if (!task) return undefined;
  const dead = (await store.countDead(taskId)) - (task.breakerBase ?? 0);
  let halted: TaskRecord | undefined;
  if (dead >= task.maxFailures) {
    const r = await store.setTaskState(taskId, 'halted', `circuit breaker: ${dead} failed node(s)${task.breakerBase ? ' since the last resume' : ''}, max_failures is ${task.maxFailures}`);
    if (r?.state === 'halted' && task.state !== 'halted') halted = r;
    if (r?.state === 'halted') await store.skipQueued(taskId, `task halted: ${r.reason ?? 'circuit breaker'}`);
  }
  await store.settleIfDone(taskId);
  return halted;
}
