// Recording a task too big for one ZooKeeper request (issue 11): created `recording`, node records added in
// bounded batches, then `routing`; a recorder that dies mid-way is finished by the next router, and a task
// that is never recorded in full never looks complete. Run on every Coordinator adapter.
import assert from 'node:assert/strict';
import type { Coordinator } from '../../core/coordination/coordinator.js';
import { collectGarbage } from '../../core/task/cleaner.js';
import { RECORD_BATCH_BYTES, TaskTooLargeError } from '../../core/task/task-bounds.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { TargetsLostError, TaskStore } from '../../core/task/task-store.js';
import { newTaskId, type Task } from '../../core/task/task.js';
import { InterleavedCoordinator, type Call } from '../support/interleave.js';

const N = 1_100;
const names = (n: number) => Array.from({ length: n }, (_, i) => `node-${String(i + 1).padStart(5, '0')}`);

/** Bytes a call puts on the wire at least: data and paths of its ops. */
const callBytes = (c: Call) => c.ops.reduce((n, op) => n + op.path.length + (op.op === 'create' || op.op === 'set' ? (op.data?.length ?? 0) : 0), 0);

export function taskRecordingContract(name: string, factory: () => Promise<{ open(): Promise<Coordinator>; root: string; cleanup(): Promise<void> }>): void {
  describe(`task recording in batches: ${name}`, function () {
    this.timeout(60_000);
    let env: Awaited<ReturnType<typeof factory>>;
    const sessions: Coordinator[] = [];
    const open = async () => {
      const c = await env.open();
      sessions.push(c);
      return c;
    };
    beforeEach(async () => {
      env = await factory();
    });
    afterEach(async () => {
      await Promise.allSettled(sessions.splice(0).map((s) => s.close()));
      await env.cleanup();
    });

    // Members discovery: the targets are not in the spec, as for a fleet found through EC2 tags.
    const task = (): Task => ({ taskId: newTaskId(), spec: parseTaskSpec({ name: 'big', action: 'noop', cluster: 'c:1', discovery: 'members' }), emittedBy: { kind: 'cli', user: 'u' }, emittedAt: new Date().toISOString() });
    const create = (store: TaskStore, t: Task, targets: string[]) => store.createTask({ task: t, targets, limit: 10, maxFailures: 1, state: 'routing' });
    const isNodeBatch = (store: TaskStore, taskId: string) => (c: Call) => c.method === 'transaction' && c.ops.some((op) => op.path.startsWith(`${store.paths.nodes(taskId)}/`));

    it('creates it `recording` with its fanout marker, adds the node records in bounded batches, then moves it to `routing`', async () => {
      const hooked = new InterleavedCoordinator(await open());
      let largest = 0;
      let batches = 0;
      const store = new TaskStore(hooked, env.root);
      const t = task();
      const targets = names(N);
      // An observer: `when` sees every call and never fires.
      hooked.once((c) => {
        largest = Math.max(largest, callBytes(c));
        if (isNodeBatch(store, t.taskId)(c)) batches++;
        return false;
      }, async () => undefined);

      assert.equal(await create(store, t, targets), true);
      const rec = await store.getTask(t.taskId);
      assert.equal(rec?.value.state, 'recording');
      assert.equal(rec?.value.targetCount, N);
      assert.equal(rec?.value.recording?.chunks, 3);
      assert.deepEqual(await store.listNodes(t.taskId), []);
      assert.deepEqual(await store.getTargets(t.taskId), targets);
      const other = new TaskStore(await open(), env.root);
      assert.equal(await other.claimFanout(t.taskId), false, 'the recorder holds the fanout marker from the first transaction');
      assert.equal(await store.claimFanout(t.taskId), true, "the recorder's own marker");
      assert.equal(await create(other, t, targets), false, 'a duplicate is refused');

      const after = await store.recordNodes(t.taskId, targets, new Map([['node-00007', 'no live runner registered for this node yet']]));
      assert.equal(after?.state, 'routing');
      assert.equal(after?.recording, undefined);
      const nodes = await store.listNodes(t.taskId);
      assert.equal(nodes.length, N);
      assert.ok(nodes.every((n) => n.state === 'QUEUED' && n.attempts === 0));
      assert.equal(nodes.find((n) => n.node === 'node-00007')?.reason, 'no live runner registered for this node yet');
      assert.ok(batches >= Math.ceil(N / 200), `node records went in ${batches} transactions`);
      assert.ok(largest <= RECORD_BATCH_BYTES, `largest request ${largest} bytes`);
    });

    it('a recorder that dies mid-way: the task stays `recording`, never settles, and the next router finishes it once', async () => {
      const aRaw = await open();
      const a = new InterleavedCoordinator(aRaw);
      const recorder = new TaskStore(a, env.root);
      const t = task();
      const targets = names(N);
      let batch = 0;
      a.once((c) => isNodeBatch(recorder, t.taskId)(c) && ++batch === 3, async () => {
        throw new Error('router killed');
      });
      assert.equal(await create(recorder, t, targets), true);
      await assert.rejects(recorder.recordNodes(t.taskId, targets), /router killed/);

      const b = new TaskStore(await open(), env.root);
      assert.equal(await b.claimFanout(t.taskId), false, 'the dead recorder is still live for ZooKeeper until its session ends');
      await aRaw.close();
      const half = await b.listNodes(t.taskId);
      assert.ok(half.length > 0 && half.length < N, `${half.length} node records before the takeover`);
      // Every recorded node done: still not complete, since not every target is recorded.
      for (const n of half) await b.updateNode(t.taskId, n.node, (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal(await b.settleIfDone(t.taskId), undefined);
      assert.equal((await b.getTask(t.taskId))?.value.state, 'recording');

      assert.equal(await b.claimFanout(t.taskId), true);
      const again = await b.recordingTargets(t.taskId, async () => {
        throw new Error('the saved chunks are complete: discovery is not asked');
      });
      assert.deepEqual(again, targets);
      assert.equal((await b.recordNodes(t.taskId, again))?.state, 'routing');
      const all = await b.listNodes(t.taskId);
      assert.equal(all.length, N);
      assert.equal(all.filter((n) => n.state === 'SUCCEEDED').length, half.length, 'records made before the takeover are kept as they are');
      assert.equal((await b.getProgress(t.taskId))?.terminal, half.length);
    });

    it('a recorder that died before saving its target list: the same list is rebuilt, a different one fails the task with the reason', async () => {
      for (const sameList of [true, false]) {
        const aRaw = await open();
        const a = new InterleavedCoordinator(aRaw);
        const recorder = new TaskStore(a, env.root);
        const t = task();
        const targets = names(N);
        a.once((c) => c.method === 'create' && c.path === recorder.paths.targetChunk(t.taskId, 1), async () => {
          throw new Error('router killed');
        });
        await assert.rejects(create(recorder, t, targets), /router killed/);
        await aRaw.close();
        const b = new TaskStore(await open(), env.root);
        assert.equal(await b.claimFanout(t.taskId), true);
        assert.equal(await b.getTargets(t.taskId), undefined, 'the list is incomplete');
        const rediscovered = sameList ? [...targets] : targets.slice(1);
        if (sameList) {
          assert.deepEqual(await b.recordingTargets(t.taskId, async () => rediscovered), targets);
          assert.equal((await b.recordNodes(t.taskId, targets))?.state, 'routing');
          assert.deepEqual(await b.getTargets(t.taskId), targets);
        } else {
          const err = await b.recordingTargets(t.taskId, async () => rediscovered).then(() => undefined, (e: unknown) => e);
          assert.ok(err instanceof TargetsLostError);
          await b.failRecording(t.taskId, err.message);
          const rec = await b.getTask(t.taskId);
          assert.equal(rec?.value.state, 'failed');
          assert.match(rec?.value.reason ?? '', /different list/);
        }
      }
    });

    it('a cancel while the task is recorded: it stays cancelled and every node, recorded before or after, ends SKIPPED', async () => {
      const hooked = new InterleavedCoordinator(await open());
      const store = new TaskStore(hooked, env.root);
      const operator = new TaskStore(await open(), env.root);
      const t = task();
      const targets = names(N);
      let batch = 0;
      hooked.once((c) => isNodeBatch(store, t.taskId)(c) && ++batch === 2, async () => {
        await operator.updateTask(t.taskId, (r) => ({ ...r, state: 'cancelled', cancelled: { by: 'oncall', at: new Date().toISOString() } }));
      });
      await create(store, t, targets);
      const after = await store.recordNodes(t.taskId, targets);
      assert.equal(after?.state, 'cancelled');
      const nodes = await store.listNodes(t.taskId);
      assert.equal(nodes.length, N);
      assert.ok(nodes.every((n) => n.state === 'SKIPPED' && /cancelled by oncall/.test(n.reason ?? '')));
      assert.equal((await store.getProgress(t.taskId))?.SKIPPED, N);
    });

    it('`tasks` reads the index and the records it shows, not one record per task; the cleaner removes index entries', async () => {
      const hooked = new InterleavedCoordinator(await open());
      const store = new TaskStore(hooked, env.root);
      const ids: string[] = [];
      for (let i = 0; i < 120; i++) {
        const t: Task = { ...task(), emittedAt: new Date(Date.UTC(2026, 10, 1, 0, i)).toISOString() };
        ids.push(t.taskId);
        await store.createTask({ task: t, targets: ['a'], limit: 1, maxFailures: 1, state: 'routing' });
      }
      let taskReads = 0;
      hooked.once((c) => {
        if (c.method === 'get' && ids.some((id) => c.path === store.paths.task(id))) taskReads++;
        return false;
      }, async () => undefined);
      const recent = await store.recentTasks(5);
      assert.deepEqual(recent.map((r) => r.task.taskId), ids.slice(-5).reverse());
      assert.equal(taskReads, 5);

      // Finished long ago: the cleaner removes the newest task and its index entry; `tasks` moves on to the next.
      const newest = ids.at(-1) as string;
      await store.updateTask(newest, (r) => ({ ...r, state: 'succeeded', endedAt: '2026-11-01T00:00:00.000Z' }));
      const gc = await collectGarbage(store, 1000, Date.parse('2026-12-01T00:00:00.000Z'));
      assert.deepEqual(gc.removed, [newest]);
      assert.equal((await store.coordinator.children(store.paths.taskIndex))?.length, 119);
      assert.deepEqual((await store.recentTasks(2)).map((r) => r.task.taskId), ids.slice(-3, -1).reverse());
    });

    it('refuses a task over the bounds with a reason naming the bound, and records nothing', async () => {
      const store = new TaskStore(await open(), env.root);
      const t = task();
      await assert.rejects(create(store, t, names(10_001)), (e: unknown) => e instanceof TaskTooLargeError && e.retryable === false && /10001 target nodes \(at most 10000/.test(e.message));
      await assert.rejects(create(store, t, ['x'.repeat(254)]), TaskTooLargeError);
      assert.equal(await store.getTask(t.taskId), undefined);
    });
  });
}
