// TaskWatch (core/task/task-watch.ts): a small task is watched record by record; a task over the bound is
// watched through its task record and progress shards only, and its follower, which re-reads every node
// record when woken, is woken at its pace by node ends but at once by the task record.
import assert from 'node:assert/strict';
import type { Coordinator, NodeData, Watcher } from '../../core/coordination/coordinator.js';
import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { TaskStore } from '../../core/task/task-store.js';
import { TaskWatch } from '../../core/task/task-watch.js';
import { newTaskId, type NodeRecord, type Task } from '../../core/task/task.js';
import { within } from '../contract/coordinator.contract.js';

const ROOT = '/watch';

function newTask(): Task {
  return {
    taskId: newTaskId(),
    spec: parseTaskSpec({ name: 'watch-me', action: 'noop', cluster: 'c:1', discovery: 'members' }),
    emittedBy: { kind: 'cli', user: 'ana' },
    emittedAt: new Date().toISOString(),
  };
}

/** The paths a session set watches on, through any read (a one-shot watch, so each arming counts once). */
function watchedPaths(c: Coordinator): Set<string> {
  const paths = new Set<string>();
  const get = c.get.bind(c);
  const children = c.children.bind(c);
  const exists = c.exists.bind(c);
  c.get = (path: string, w?: Watcher): Promise<NodeData | undefined> => (w && paths.add(path), get(path, w));
  c.children = (path: string, w?: Watcher) => (w && paths.add(path), children(path, w));
  c.exists = (path: string, w?: Watcher) => (w && paths.add(path), exists(path, w));
  return paths;
}

/** True once `p` has settled, looking after a few turns of the event loop (enough for in-memory watches). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  return done;
}

describe('TaskWatch: bounded watches for big tasks', () => {
  let server: MemoryCoordinatorStore;
  let admin: TaskStore;

  beforeEach(async () => {
    server = new MemoryCoordinatorStore();
    admin = new TaskStore(server.session(), ROOT);
    await admin.init();
  });
  afterEach(async () => {
    await server.stop();
  });

  async function record(nodes: number): Promise<string> {
    const t = newTask();
    const targets = Array.from({ length: nodes }, (_, i) => `n${String(i).padStart(3, '0')}`);
    await admin.createTask({ task: t, targets, limit: 2, maxFailures: 100, state: 'routing' });
    await admin.recordNodes(t.taskId, targets);
    return t.taskId;
  }

  /** A task of `nodes` nodes, followed by a started TaskWatch on a new session, with the paths it watches. */
  async function started(nodes: number, watchedNodesMax: number): Promise<{ id: string; watch: TaskWatch; watched: Set<string> }> {
    const id = await record(nodes);
    const session = server.session();
    const watched = watchedPaths(session);
    const watch = new TaskWatch(new TaskStore(session, ROOT), id, { watchedNodesMax });
    await watch.start();
    return { id, watch, watched };
  }

  it('watches every node record of a task up to the bound', async () => {
    const { id, watch, watched } = await started(5, 5);
    assert.equal(watch.followsProgress, false);
    for (let i = 0; i < 5; i++) assert.ok(watched.has(admin.paths.node(id, `n00${i}`)), `n00${i} watched`);
    // A node's change wakes the follower at once.
    const woken = watch.next(60_000);
    await admin.updateNode(id, 'n003', (r) => ({ ...r, state: 'STARTED' }));
    await within(woken, 'the wake on a node change');
    watch.stop();
  });

  it('over the bound: no node record is watched, only the task record, the node folder and the progress shards', async () => {
    const { id, watch, watched } = await started(40, 39);
    assert.equal(watch.followsProgress, true);
    const nodeWatches = [...watched].filter((p) => p.startsWith(`${admin.paths.nodes(id)}/`));
    assert.deepEqual(nodeWatches, []);
    const shards = (await admin.coordinator.children(admin.paths.progress(id))) ?? [];
    assert.ok(shards.length > 1, `${shards.length} shards`);
    assert.equal(watched.size, 2 + shards.length, [...watched].join(' '));
    watch.stop();
  });

  const ended = (r: NodeRecord): NodeRecord => ({ ...r, state: 'SUCCEEDED', endedAt: new Date().toISOString() });

  /**
   * A big task's watch with a pace of minutes, woken once by a node's end (the first wake is not held: nothing
   * was read before it); then a second node ends. Returns the wait that follows, held by the pace.
   */
  async function heldByPace(): Promise<{ id: string; watch: TaskWatch; held: Promise<void> }> {
    const id = await record(20);
    const watch = new TaskWatch(new TaskStore(server.session(), ROOT), id, { watchedNodesMax: 10, readMsPerNode: 60_000 });
    await watch.start();
    const first = watch.next(60_000);
    await admin.updateNode(id, 'n001', ended);
    await within(first, 'the first wake');
    const held = watch.next(60_000);
    await admin.updateNode(id, 'n002', ended);
    assert.equal(await settled(held), false, 'woken by a node end within its pace');
    return { id, watch, held };
  }

  it("over the bound: a node's end wakes the follower no sooner than its pace; the task record wakes it at once", async () => {
    const { id, watch, held } = await heldByPace();
    // The task is paused (its record changes): read at once.
    await admin.updateTask(id, (t) => ({ ...t, paused: { by: 'ana', at: new Date().toISOString() } }));
    await within(held, 'the wake on the task record');
    watch.stop();
  });

  it('stop() ends a wait held by the pace', async () => {
    const { watch, held } = await heldByPace();
    watch.stop();
    await within(held, 'the wait after stop()');
  });
});
