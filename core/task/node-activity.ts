// What else is going on on a node: the other tasks of its cluster whose record of this node is STARTED (an
// attempt under way). host:reboot refuses to reboot under them. Reads every live task record, bounded to 16
// reads at a time; finished tasks are skipped from their task record without reading their nodes.
import { mapLimit } from '../pool.js';
import { FINAL_TASK_STATES } from './task.js';
import type { TaskStore } from './task-store.js';

export async function otherTasksInFlight(store: TaskStore, o: { cluster: string; node: string; exceptTaskId: string }): Promise<string[]> {
  const ids = (await store.listTaskIds()).filter((id) => id !== o.exceptTaskId);
  const busy = await mapLimit(ids, 16, async (id) => {
    const t = await store.getTask(id);
    if (!t || FINAL_TASK_STATES.includes(t.value.state) || t.value.spec.cluster !== o.cluster) return undefined;
    const n = await store.getNode(id, o.node);
    return n?.value.state === 'STARTED' ? id : undefined;
  });
  return busy.filter((id): id is string => id !== undefined);
}
