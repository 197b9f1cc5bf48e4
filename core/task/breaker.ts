// The circuit breaker: once `max_failures` nodes of a task are DEAD (counted since its last resume), the task
// is halted and no further node starts. Called by whoever makes a node DEAD, before anything
// else of it starts.
import { FINAL_TASK_STATES, type TaskRecord } from './task.js';
import type { TaskStore } from './task-store.js';

/** Halts the task if its failure budget is spent; returns the record when this call halted it. */
export async function tripBreaker(store: TaskStore, taskId: string): Promise<TaskRecord | undefined> {
  // The progress record and the end markers' list: two reads (every shard of a task recorded before them).
  const counts = await store.getEndCounts(taskId);
  const dead = counts?.dead ?? 0;
  let before = undefined as TaskRecord | undefined;
  // The decision is made on the record being written, so a breaker call that raced a resume (which moved
  // breakerBase up) does not halt the resumed task again.
  const r = await store.updateTask(taskId, (t) => {
    before = t;
    const counted = dead - (t.breakerBase ?? 0);
    if (counted < t.maxFailures || FINAL_TASK_STATES.includes(t.state)) return undefined;
    // Nothing left to stop: every node already ended, so the task simply failed (settled below). Calling it
    // "halted by the circuit breaker" would send the operator looking for nodes it held back.
    if (counts && t.targetCount > 0 && counts.ended >= t.targetCount) return undefined;
    const now = new Date().toISOString();
    return { ...t, state: 'halted', reason: `circuit breaker: ${counted} failed node(s)${t.breakerBase ? ' since the last resume' : ''}, max_failures is ${t.maxFailures}`, endedAt: now };
  });
  if (!r) return undefined;
  const halted = r.state === 'halted' && before?.state !== 'halted' ? r : undefined;
  if (r.state === 'halted') await store.skipQueued(taskId, `task halted: ${r.reason ?? 'circuit breaker'}`);
  await store.settleIfDone(taskId);
  return halted;
}
