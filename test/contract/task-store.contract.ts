// TaskStore behaviour that must hold on every Coordinator adapter.
import assert from 'node:assert/strict';
import { tripBreaker } from '../../core/task/breaker.js';
import type { Coordinator } from '../../core/coordination/coordinator.js';
import { MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { resumeTask } from '../../core/task/task-control.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { PROGRESS_SHARDS, progressShardOf, TaskChangedError, TaskStore } from '../../core/task/task-store.js';
import { newTaskId } from '../../core/task/task.js';
import { InterleavedCoordinator } from '../support/interleave.js';
import { TaskFollower } from '../../core/task/task-follower.js';

export function taskStoreContract(name: string, factory: () => Promise<{ open(): Promise<Coordinator>; root: string; cleanup(): Promise<void> }>): void {
  describe(`task store: ${name}`, () => {
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
    const queues: MemoryWorkQueue[] = [];
    afterEach(async () => {
      await Promise.allSettled(queues.splice(0).map((q) => q.close()));
      await Promise.allSettled(sessions.splice(0).map((s) => s.close()));
      await env.cleanup();
    });

    async function recorded(store: TaskStore, nodes = ['a', 'b']) {
      const taskId = newTaskId();
      const spec = parseTaskSpec({ name: 't', action: 'noop', cluster: 'c:1', nodes });
      assert.equal(await store.createTask({ task: { taskId, spec, emittedBy: { kind: 'cli', user: 'u' }, emittedAt: new Date().toISOString() }, targets: nodes, limit: 1, maxFailures: 1, state: 'routing' }), true);
      return taskId;
    }

    /** Two stores on two sessions; the first one's calls can be interleaved with the second one's. */
    async function twoActors() {
      const hooked = new InterleavedCoordinator(await open());
      return { hooked, slow: new TaskStore(hooked, env.root), other: new TaskStore(await open(), env.root) };
    }
    /** A running task of nodes a, b, c whose node a is DEAD (enough for max_failures 1). */
    async function oneDead(store: TaskStore) {
      const taskId = await recorded(store, ['a', 'b', 'c']);
      await store.setTaskState(taskId, 'running');
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'DEAD' }));
      return taskId;
    }
    /** The node queues of b and c, for a resume to send to; closed after the test. */
    async function nodeQueues() {
      const queue = new MemoryWorkQueue();
      queues.push(queue);
      const names = queueNames('t');
      for (const q of [names.node('c:1', 'b'), names.node('c:1', 'c')]) await queue.ensureQueue({ name: q, deadLetter: `${q}-dlq`, maxReceiveCount: 10, visibilityTimeoutSec: 30 });
      return { queue, names };
    }
    const nodeWrite = (store: TaskStore, taskId: string) => (c: { method: string; path: string; ops: { path: string }[] }) =>
      (c.method === 'transaction' || c.method === 'set') && c.ops.some((op) => op.path.startsWith(`${store.paths.nodes(taskId)}/`));

    it('records a task once: a second create of the same id is refused', async () => {
      const store = new TaskStore(await open(), env.root);
      const taskId = await recorded(store);
      const spec = parseTaskSpec({ name: 't', action: 'noop', cluster: 'c:1', nodes: ['a'] });
      assert.equal(await store.createTask({ task: { taskId, spec, emittedBy: { kind: 'cli', user: 'u' }, emittedAt: '' }, targets: ['a'], limit: 1, maxFailures: 1, state: 'routing' }), false);
      assert.deepEqual((await store.listNodes(taskId)).map((n) => n.state), ['QUEUED', 'QUEUED']);
    });

    it('a node claim is exclusive across sessions, and a session finds its own leftover claim its own', async () => {
      const mine = new TaskStore(await open(), env.root);
      const other = new TaskStore(await open(), env.root);
      const taskId = await recorded(mine);
      assert.equal(await mine.claimNode(taskId, 'a'), true);
      assert.equal(await mine.claimNode(taskId, 'a'), true, 'same session: its own claim');
      assert.equal(await other.claimNode(taskId, 'a'), false, 'another session: taken');
      await mine.releaseNode(taskId, 'a');
      assert.equal(await other.claimNode(taskId, 'a'), true);
    });

    it('keeps progress counts in step with node records, through and back out of terminal states', async () => {
      const store = new TaskStore(await open(), env.root);
      const taskId = await recorded(store);
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'DEAD' }));
      await store.updateNode(taskId, 'b', (r) => ({ ...r, state: 'STARTED' }));
      assert.deepEqual(await store.getProgress(taskId), { terminal: 1, SUCCEEDED: 0, DEAD: 1, SKIPPED: 0 });
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'QUEUED' }));
      await store.updateNode(taskId, 'b', (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.deepEqual(await store.getProgress(taskId), { terminal: 1, SUCCEEDED: 1, DEAD: 0, SKIPPED: 0 });
      assert.equal(await store.settleIfDone(taskId), undefined, 'not done while a node is QUEUED');
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal((await store.settleIfDone(taskId))?.state, 'succeeded');
    });

    it('counts a node end in its own progress shard only, so that nodes of different shards never race for one counter', async () => {
      const store = new TaskStore(await open(), env.root);
      // Two nodes whose ends count in different shards.
      const a = 'a';
      const b = ['b', 'c', 'd', 'e', 'f'].find((n) => progressShardOf(n) !== progressShardOf(a)) as string;
      const taskId = await recorded(store, [a, b]);
      const shards = async () => {
        const out = new Map<number, string>();
        for (let i = 0; i < PROGRESS_SHARDS; i++) {
          const d = await store.coordinator.get(store.paths.progressShard(taskId, i));
          out.set(i, `${d?.stat.version}:${d?.data.toString()}`);
        }
        return out;
      };
      const before = await shards();
      assert.equal(before.size, PROGRESS_SHARDS);
      const rootBefore = (await store.coordinator.get(store.paths.progress(taskId)))?.stat.version;
      await store.updateNode(taskId, a, (r) => ({ ...r, state: 'SUCCEEDED' }));
      const after = await shards();
      const changed = [...after.keys()].filter((i) => after.get(i) !== before.get(i));
      assert.deepEqual(changed, [progressShardOf(a)]);
      assert.equal((await store.coordinator.get(store.paths.progress(taskId)))?.stat.version, rootBefore, 'the progress znode itself is not written');
      assert.deepEqual(await store.getProgress(taskId), { terminal: 1, SUCCEEDED: 1, DEAD: 0, SKIPPED: 0 });
      await store.updateNode(taskId, b, (r) => ({ ...r, state: 'DEAD' }));
      assert.deepEqual(await store.getProgress(taskId), { terminal: 2, SUCCEEDED: 1, DEAD: 1, SKIPPED: 0 });
      assert.equal((await store.settleIfDone(taskId))?.state, 'failed');
    });

    it('counts and settles a task recorded before the counts were split (one progress record, no shards)', async () => {
      const store = new TaskStore(await open(), env.root);
      const taskId = await recorded(store);
      for (let i = 0; i < PROGRESS_SHARDS; i++) await store.coordinator.remove(store.paths.progressShard(taskId, i));
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal(await store.settleIfDone(taskId), undefined, 'not done while b is QUEUED');
      await store.updateNode(taskId, 'b', (r) => ({ ...r, state: 'SUCCEEDED' }));
      const root = await store.coordinator.get(store.paths.progress(taskId));
      assert.deepEqual(JSON.parse(root?.data.toString() ?? '{}'), { terminal: 2, SUCCEEDED: 2, DEAD: 0, SKIPPED: 0 });
      assert.equal((await store.settleIfDone(taskId))?.state, 'succeeded');
    });

    it('does not settle on counts that changed after it read them (a node queued again in another shard)', async () => {
      const store = new TaskStore(await open(), env.root);
      const other = ['b', 'c', 'd', 'e', 'f'].find((n) => progressShardOf(n) !== progressShardOf('a')) as string;
      const taskId = await recorded(store, ['a', other]);
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'DEAD' }));
      await store.updateNode(taskId, other, (r) => ({ ...r, state: 'SUCCEEDED' }));
      const read = await store.getProgressGuarded(taskId);
      assert.equal(read?.value.terminal, 2);
      // A redrive queues a again between the read and a write guarded on it: the write must fail.
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'QUEUED' }));
      await assert.rejects(store.coordinator.transaction([...(read?.checks ?? []), { op: 'set', path: store.paths.task(taskId), data: Buffer.from('{}'), version: -1 }]));
      assert.equal(await store.settleIfDone(taskId), undefined);
    });

    it("a node's end costs at most one read while its shard has targets left to end; the end completing the last shard settles", async () => {
      const { hooked, slow, other } = await twoActors();
      const nodes = Array.from({ length: 40 }, (_, i) => `n${i}`);
      const taskId = await recorded(slow, nodes);
      const left = new Map<number, number>();
      for (const n of nodes) left.set(progressShardOf(n), (left.get(progressShardOf(n)) ?? 0) + 1);
      // A fixed shuffle, so that shards complete one after another and not in node order.
      const order = nodes.map((n, i) => ({ n, k: (i * 17) % 41 })).sort((a, b) => a.k - b.k).map((x) => x.n);
      let fullReads = 0;
      for (const [i, n] of order.entries()) {
        // Even ends are written by the settling store itself (as a runner settles after its own end), odd
        // ones by another session: then the settler knows nothing of the end and reads the node's shard.
        const own = i % 2 === 0;
        await (own ? slow : other).updateNode(taskId, n, (r) => ({ ...r, state: i === 3 ? 'DEAD' : 'SUCCEEDED' }));
        const shard = progressShardOf(n);
        left.set(shard, (left.get(shard) ?? 0) - 1);
        hooked.calls.length = 0;
        const settled = await slow.settleIfDone(taskId, n);
        if ((left.get(shard) ?? 0) > 0) {
          const want = own ? [] : [`get ${slow.paths.progressShard(taskId, shard)}`];
          assert.deepEqual(hooked.calls.map((c) => `${c.method} ${c.path}`), want, `end of ${n}: ${own ? 'nothing read' : "its shard's read only"}`);
        } else {
          fullReads++;
        }
        if (i < order.length - 1) assert.equal(settled, undefined, `not done after ${i + 1} of ${nodes.length} ends`);
        else assert.equal(settled?.state, 'failed', 'the last end settles the task');
      }
      assert.equal(fullReads, left.size, 'one full read per shard, at the end that completes it');
      assert.equal((await slow.getTask(taskId))?.value.reason, '1 of 40 nodes did not succeed (1 dead, 0 skipped)');
    });

    it("a node's end that loses its shard's counter to another end retries on the shard alone", async () => {
      const { hooked, slow, other } = await twoActors();
      const b = ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q', 'r', 's'].find((x) => progressShardOf(x) === progressShardOf('a'));
      assert.ok(b, 'a node in the same shard as a');
      const taskId = await recorded(other, ['a', b]);
      // Just before a's end is written, b's end lands in the same shard: a's transaction fails on the counter.
      const race = hooked.once(
        (c) => c.method === 'transaction' && c.ops.some((op) => op.path === slow.paths.node(taskId, 'a')),
        async () => void (await other.updateNode(taskId, b, (r) => ({ ...r, state: 'SUCCEEDED' }))),
      );
      const known = await slow.getNode(taskId, 'a');
      hooked.calls.length = 0;
      const after = await slow.updateNodeVersioned(taskId, 'a', (r) => ({ ...r, state: 'SUCCEEDED' }), known);
      assert.ok(race.fired);
      assert.equal(after?.value.state, 'SUCCEEDED');
      const shard = slow.paths.progressShard(taskId, progressShardOf('a'));
      assert.deepEqual(hooked.calls.map((c) => `${c.method} ${c.path === shard ? 'shard' : c.path === slow.paths.node(taskId, 'a') ? 'node' : c.path}`), ['get shard', 'transaction node', 'get shard', 'transaction node']);
      assert.deepEqual(await other.getProgress(taskId), { terminal: 2, SUCCEEDED: 2, DEAD: 0, SKIPPED: 0 });
      assert.equal((await other.getNode(taskId, 'a'))?.version, (known?.version ?? 0) + 1);
      assert.equal((await slow.settleIfDone(taskId, 'a'))?.state, 'succeeded');
    });

    it('settles a task whose nodes end at once in every order of the shard completions (four sessions)', async () => {
      const stores = await Promise.all([0, 1, 2, 3].map(async () => new TaskStore(await open(), env.root)));
      const s0 = stores[0] as TaskStore;
      for (let round = 0; round < 5; round++) {
        const nodes = Array.from({ length: 24 }, (_, i) => `r${round}-n${i}`);
        const taskId = await recorded(s0, nodes);
        await Promise.all(
          nodes.map(async (n, i) => {
            const s = stores[(i + round) % 4] as TaskStore;
            await s.updateNode(taskId, n, (r) => ({ ...r, state: 'SUCCEEDED' }));
            await s.settleIfDone(taskId, n);
          }),
        );
        assert.equal((await s0.getTask(taskId))?.value.state, 'succeeded', `round ${round}`);
      }
    });

    it("settles at a node's end a task whose shards were recorded without their target counts", async () => {
      const store = new TaskStore(await open(), env.root);
      const taskId = await recorded(store, ['a', 'b', 'c']);
      for (let i = 0; i < PROGRESS_SHARDS; i++) await store.coordinator.set(store.paths.progressShard(taskId, i), Buffer.from(JSON.stringify({ terminal: 0, SUCCEEDED: 0, DEAD: 0, SKIPPED: 0 })), -1);
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'SUCCEEDED' }));
      await store.updateNode(taskId, 'b', (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal(await store.settleIfDone(taskId, 'b'), undefined);
      await store.updateNode(taskId, 'c', (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal((await store.settleIfDone(taskId, 'c'))?.state, 'succeeded');
    });

    it('counts every concurrent terminal transition exactly once', async () => {
      const stores = await Promise.all([0, 1, 2, 3].map(async () => new TaskStore(await open(), env.root)));
      const s0 = stores[0] as TaskStore;
      const taskId = newTaskId();
      const nodes = Array.from({ length: 12 }, (_, i) => `n${i}`);
      const spec = parseTaskSpec({ name: 't', action: 'noop', cluster: 'c:1', nodes });
      await s0.createTask({ task: { taskId, spec, emittedBy: { kind: 'cli', user: 'u' }, emittedAt: '' }, targets: nodes, limit: 1, maxFailures: 1, state: 'routing' });
      await Promise.all(nodes.map((n, i) => (stores[i % 4] as TaskStore).updateNode(taskId, n, (r) => ({ ...r, state: i % 3 === 0 ? 'DEAD' : 'SUCCEEDED' }))));
      assert.deepEqual(await s0.getProgress(taskId), { terminal: 12, SUCCEEDED: 8, DEAD: 4, SKIPPED: 0 });
    });

    it('lists recent tasks by when they were emitted (not by id), newest first, with their progress', async () => {
      const store = new TaskStore(await open(), env.root);
      const make = async (taskId: string, emittedAt: string) => {
        const spec = parseTaskSpec({ name: 'nightly-repair', action: 'noop', cluster: 'c:1', nodes: ['a', 'b'] });
        await store.createTask({ task: { taskId, spec, emittedBy: { kind: 'cli', user: 'u' }, emittedAt }, targets: ['a', 'b'], limit: 1, maxFailures: 1, state: 'routing' });
      };
      // A scheduled task's id starts with its spec name, so by id it would sort after every CLI task.
      await make('20261121T020000000Z-0a0b0c0d', '2026-11-21T02:00:00.000Z');
      await make('nightly-repair-20261121T030000Z', '2026-11-21T03:00:00.000Z');
      await make('20261121T040000000Z-1a1b1c1d', '2026-11-21T04:00:00.000Z');
      await make('aaa-oldest-20261120T010000Z', '2026-11-20T01:00:00.000Z');
      await store.updateNode('nightly-repair-20261121T030000Z', 'a', (r) => ({ ...r, state: 'SUCCEEDED' }));
      const recent = await store.recentTasks(3);
      assert.deepEqual(
        recent.map((r) => r.task.taskId),
        ['20261121T040000000Z-1a1b1c1d', 'nightly-repair-20261121T030000Z', '20261121T020000000Z-0a0b0c0d'],
      );
      assert.equal(recent[1]?.progress?.terminal, 1);
      assert.equal(recent[0]?.progress?.terminal, 0);
    });

    it('a guarded node write is refused once the task record moved on, and nothing of it is applied', async () => {
      const store = new TaskStore(await open(), env.root);
      const taskId = await recorded(store);
      const seen = await store.getTask(taskId);
      assert.ok(seen);
      await store.updateNodeVersioned(taskId, 'a', (r) => ({ ...r, state: 'STARTED' }), undefined, { version: seen.version });
      await store.setTaskState(taskId, 'cancelled', 'cancelled by test');
      await assert.rejects(store.updateNodeVersioned(taskId, 'b', (r) => ({ ...r, state: 'STARTED' }), undefined, { version: seen.version }), TaskChangedError);
      assert.equal((await store.getNode(taskId, 'b'))?.value.state, 'QUEUED');
      // A terminal move under a guard is refused too, progress counts included.
      await assert.rejects(store.updateNodeVersioned(taskId, 'b', (r) => ({ ...r, state: 'SUCCEEDED' }), undefined, { version: seen.version }), TaskChangedError);
      assert.deepEqual(await store.getProgress(taskId), { terminal: 0, SUCCEEDED: 0, DEAD: 0, SKIPPED: 0 });
    });

    it("a runner's follower wakes for a pause, not for the router's routed and running; a start guarded on it goes through those", async () => {
      const router = new TaskStore(await open(), env.root);
      const taskId = await recorded(router);
      const watched = new InterleavedCoordinator(await open());
      const follower = new TaskFollower(new TaskStore(watched, env.root), taskId);
      assert.equal((await follower.start())?.state, 'routing');
      const guard = follower.guard;
      const taskReads = () => watched.calls.filter((c) => c.method === 'get' && c.path === router.paths.task(taskId)).length;
      const readsAtStart = taskReads();
      // The router's and the first start's bookkeeping: no runner acts on it.
      await router.markFannedOut(taskId);
      await new TaskStore(await open(), env.root).noteStarted(taskId);
      assert.equal((await router.getTask(taskId))?.value.state, 'running');
      // A start guarded on what the follower saw before them goes through.
      const runner = new TaskStore(await open(), env.root);
      assert.equal((await runner.updateNodeVersioned(taskId, 'a', (r) => ({ ...r, state: 'STARTED' }), undefined, guard))?.value.state, 'STARTED');
      // A pause wakes the follower (one read of the record), and a start guarded on the old view is refused.
      const woken = follower.changed();
      await router.updateTask(taskId, (t) => ({ ...t, paused: { by: 'ana', at: new Date().toISOString() } }));
      await woken;
      assert.ok(follower.current?.paused);
      assert.equal(taskReads() - readsAtStart, 1, 'the follower read the task record again for the routed or running write');
      await assert.rejects(runner.updateNodeVersioned(taskId, 'b', (r) => ({ ...r, state: 'STARTED' }), undefined, guard), TaskChangedError);
      assert.equal((await runner.getNode(taskId, 'b'))?.value.state, 'QUEUED');
      follower.stop();
    });

    it('a task goes running once, whether its first start comes during the fan-out, after it, or in between the router\'s steps', async () => {
      const store = new TaskStore(await open(), env.root);
      // A start while the items are still being sent: the router's one write at the end says running.
      const during = await recorded(store);
      await store.noteStarted(during);
      assert.equal((await store.getTask(during))?.value.state, 'routing');
      const a = await store.markFannedOut(during);
      assert.equal(a?.state, 'running');
      assert.ok(a?.routedAt);
      // No start yet when the router is done: routed; the first start says running, later ones write nothing.
      const after = await recorded(store);
      assert.equal((await store.markFannedOut(after))?.state, 'routed');
      await store.noteStarted(after);
      const once = await store.getTask(after);
      assert.equal(once?.value.state, 'running');
      await store.noteStarted(after);
      assert.equal((await store.getTask(after))?.version, once?.version);
      // The start lands after the router looked for it and before it wrote routed: it reads routing and
      // leaves the state alone; the router looks again after its write and says running.
      const { hooked, slow, other } = await twoActors();
      const between = await recorded(other);
      const hook = hooked.once(
        (c) => (c.method === 'set' || c.method === 'transaction') && c.ops.some((op) => op.path === slow.paths.task(between)),
        async () => {
          await other.noteStarted(between);
          assert.equal((await other.getTask(between))?.value.state, 'routing');
        },
      );
      assert.equal((await slow.markFannedOut(between))?.state, 'running');
      assert.ok(hook.fired);
    });

    it('a task recorded before control records: its follower watches the task record itself', async () => {
      const store = new TaskStore(await open(), env.root);
      const taskId = await recorded(store);
      await store.coordinator.remove(store.paths.control(taskId));
      const follower = new TaskFollower(new TaskStore(await open(), env.root), taskId);
      await follower.start();
      assert.equal(follower.guard.path, store.paths.task(taskId));
      const woken = follower.changed();
      await store.updateTask(taskId, (t) => ({ ...t, paused: { by: 'ana', at: new Date().toISOString() } }));
      await woken;
      assert.ok(follower.current?.paused);
      follower.stop();
    });

    it('does not settle on progress counts that a node queued again has made stale', async () => {
      const { hooked, slow, other } = await twoActors();
      const taskId = await recorded(other);
      await other.setTaskState(taskId, 'running');
      await other.updateNode(taskId, 'a', (r) => ({ ...r, state: 'DEAD' }));
      await other.updateNode(taskId, 'b', (r) => ({ ...r, state: 'SUCCEEDED' }));
      // The settler has read "all terminal"; before it writes, the dead node is queued again (a redrive).
      const hook = hooked.once(
        (c) => c.method === 'transaction' && c.ops.some((op) => op.path === slow.paths.task(taskId)),
        async () => void (await other.updateNode(taskId, 'a', (r) => ({ ...r, state: 'QUEUED' }))),
      );
      assert.equal(await slow.settleIfDone(taskId), undefined);
      assert.ok(hook.fired);
      assert.equal((await other.getTask(taskId))?.value.state, 'running');
    });

    it('a breaker call still in flight from a halt neither skips the nodes a resume queued nor halts the resumed task', async () => {
      const { hooked, slow, other } = await twoActors();
      const taskId = await oneDead(other);
      const { queue, names } = await nodeQueues();
      // The breaker halts the task; just before it skips the first waiting node, an operator resumes.
      let resumed: Awaited<ReturnType<typeof resumeTask>> | undefined;
      const hook = hooked.once(nodeWrite(slow, taskId), async () => {
        resumed = await resumeTask(other, queue, names, taskId, 'oncall');
      });
      await tripBreaker(slow, taskId);
      assert.ok(hook.fired);
      assert.equal(resumed?.task.state, 'running');
      const task = (await other.getTask(taskId))?.value;
      assert.equal(task?.state, 'running', 'the resumed task stays running');
      assert.equal(task?.breakerBase, 1);
      assert.deepEqual((await other.listNodes(taskId)).map((n) => n.state), ['DEAD', 'QUEUED', 'QUEUED']);
      // And a late breaker call after the resume does not halt it again.
      await tripBreaker(slow, taskId);
      assert.equal((await other.getTask(taskId))?.value.state, 'running');
    });

    it('a resumed task is not settled on its old counts while its skipped nodes are being queued again', async () => {
      const { hooked, slow, other } = await twoActors();
      const taskId = await oneDead(other);
      await tripBreaker(other, taskId);
      assert.deepEqual((await other.listNodes(taskId)).map((n) => n.state), ['DEAD', 'SKIPPED', 'SKIPPED']);
      const { queue, names } = await nodeQueues();
      // Just before the resume queues the first skipped node again, a runner finishing elsewhere settles.
      let settled: unknown = 'not called';
      const hook = hooked.once(nodeWrite(slow, taskId), async () => {
        settled = await other.settleIfDone(taskId);
      });
      const r = await resumeTask(slow, queue, names, taskId, 'oncall');
      assert.ok(hook.fired);
      assert.equal(settled, undefined, 'not settled in the middle of the resume');
      assert.deepEqual(r.requeued, ['b', 'c']);
      const task = (await other.getTask(taskId))?.value;
      assert.equal(task?.state, 'running');
      assert.equal(task?.resuming, undefined, 'the resume mark is cleared at the end');
      assert.deepEqual((await other.listNodes(taskId)).map((n) => n.state), ['DEAD', 'QUEUED', 'QUEUED']);
      assert.equal((await queue.stats(names.node('c:1', 'b'))).visible, 1);
    });

    it('a resume that died half-way is finished by the next resume', async () => {
      const { hooked, slow, other } = await twoActors();
      const taskId = await oneDead(other);
      await tripBreaker(other, taskId);
      const { queue, names } = await nodeQueues();
      // The first resume dies right after it queued node b again (before b's work item was sent).
      hooked.once(
        (c) => c.method === 'get' && c.path === slow.paths.node(taskId, 'c'),
        () => Promise.reject(new Error('resume process killed')),
      );
      const died = resumeTask(slow, queue, names, taskId, 'oncall');
      await assert.rejects(died, /killed/);
      assert.ok((await other.getTask(taskId))?.value.resuming, 'the half-done resume leaves its mark');
      assert.equal(await other.settleIfDone(taskId), undefined);
      const r = await resumeTask(other, queue, names, taskId, 'oncall');
      assert.deepEqual(r.requeued.sort(), ['b', 'c']);
      const task = (await other.getTask(taskId))?.value;
      assert.equal(task?.state, 'running');
      assert.equal(task?.resuming, undefined);
      assert.deepEqual((await other.listNodes(taskId)).map((n) => n.state), ['DEAD', 'QUEUED', 'QUEUED']);
      assert.ok((await queue.stats(names.node('c:1', 'b'))).visible >= 1);
      assert.equal((await queue.stats(names.node('c:1', 'c'))).visible, 1);
    });
  });
}
