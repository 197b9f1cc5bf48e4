// Emitting a task: give it an id, stamp who asked and when, and put it on the global queue. Used by the
// CLI (`run`, `submit`), the scheduler and the embedded mode.
import { userInfo } from 'node:os';
import type { QueueNames } from '../queue/queue-names.js';
import { encodeTaskMessage, newTaskId, type Emitter, type Task } from './task.js';
import type { TaskSpec } from './task-spec.js';
import type { WorkQueue } from '../queue/work-queue.js';

export function currentUser(): string {
  try {
    return process.env.SUDO_USER || userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

export async function emitTask(queue: WorkQueue, names: QueueNames, spec: TaskSpec, emittedBy: Emitter, taskId = newTaskId()): Promise<Task> {
  const task: Task = { taskId, spec, emittedBy, emittedAt: new Date().toISOString() };
  await queue.send(names.global, {
    body: encodeTaskMessage(task),
    attributes: { 'taskerman.task_id': taskId, 'taskerman.emitted_by': `${emittedBy.kind}:${emittedBy.user}` },
  });
  return task;
}
