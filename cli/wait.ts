// Following a task until it ends: woken by ZooKeeper watches (TaskWatch), printing a progress line on every
// change. Shared by `run --wait`, `submit --wait`, `status --watch` and `dev`.
import { FINAL_TASK_STATES, type NodeRecord, type TaskRecord } from '../core/task.js';
import { TaskWatch, type TaskStore } from '../core/task-store.js';
import { progressLine } from './status-view.js';

export interface WaitResult {
  task: TaskRecord;
  nodes: NodeRecord[];
}

export async function waitForTask(store: TaskStore, taskId: string, opts: { out?: (line: string) => void; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<WaitResult | undefined> {
  const started = Date.now();
  const watch = new TaskWatch(store, taskId);
  let lastLine = '';
  try {
    for (;;) {
      if (opts.signal?.aborted) return undefined;
      if (opts.timeoutMs !== undefined && Date.now() - started > opts.timeoutMs) return undefined;
      // Armed before the read, so a record created in between still wakes us.
      await watch.start();
      const rec = await store.getTask(taskId);
      if (rec) {
        const nodes = await store.listNodes(taskId);
        const line = progressLine(rec.value, nodes, Date.now() - started);
        const key = line.replace(/^\s*[\d.]+s /, '');
        if (opts.out && key !== lastLine) {
          lastLine = key;
          opts.out(line);
        }
        if (FINAL_TASK_STATES.includes(rec.value.state)) return { task: rec.value, nodes };
      }
      // The watch wakes us on change; the timeout is a backstop against a missed one.
      await watch.next(5000, opts.signal);
    }
  } finally {
    watch.stop();
  }
}
