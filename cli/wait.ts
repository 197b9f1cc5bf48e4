// Following a task until it ends: woken by ZooKeeper watches (TaskWatch), printing a progress line on every
// change. Shared by `run --wait`, `submit --wait`, `status --watch` and `dev`.
import { FINAL_TASK_STATES, type NodeRecord, type TaskRecord } from '../core/task/task.js';
import { TaskWatch, type TaskStore } from '../core/task/task-store.js';
import { progressLine } from './status-view.js';

export interface WaitResult {
  task: TaskRecord;
  nodes: NodeRecord[];
}

/** Nodes still moving: after a halt or a cancel they finish or end SKIPPED within moments. */
const moving = (nodes: NodeRecord[]) => nodes.some((n) => n.state === 'STARTED' || n.state === 'WAITING' || n.state === 'FAILED');

export async function waitForTask(
  store: TaskStore,
  taskId: string,
  opts: { out?: (line: string) => void; progress?: (task: TaskRecord, nodes: NodeRecord[]) => void; signal?: AbortSignal; timeoutMs?: number; settleMs?: number } = {},
): Promise<WaitResult | undefined> {
  const started = Date.now();
  let finalSince: number | undefined;
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
        opts.progress?.(rec.value, nodes);
        const line = progressLine(rec.value, nodes, Date.now() - started);
        const key = line.replace(/^\s*[\d.]+s /, '');
        if (opts.out && key !== lastLine) {
          lastLine = key;
          opts.out(line);
        }
        if (FINAL_TASK_STATES.includes(rec.value.state)) {
          // A halted or cancelled task is final at once, but its nodes in flight still finish or end
          // SKIPPED: give them a moment so the table we print is the settled one.
          finalSince ??= Date.now();
          if (!moving(nodes) || Date.now() - finalSince > (opts.settleMs ?? 15_000)) return { task: rec.value, nodes };
        }
      }
      // The watch wakes us on change; the timeout is a backstop against a missed one.
      await watch.next(5000, opts.signal);
    }
  } finally {
    watch.stop();
  }
}
