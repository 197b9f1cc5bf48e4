// TaskStore behaviour that must hold on every Coordinator adapter.
import assert from 'node:assert/strict';
import { tripBreaker } from '../../core/task/breaker.js';
import type { Coordinator } from '../../core/coordination/coordinator.js';
import { MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { resumeTask } from '../../core/task/task-control.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { PROGRESS_SHARDS, progressShardOf, TaskChangedError, TaskStore, type ProgressShard, type ProgressSummary } from '../../core/task/task-store.js';
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

    /** Nodes named `${prefix}${i}` whose ends count in `shard`, `n` of them. */
    const inShard = (shard: number, n: number, prefix = 'x') => {
      const out: string[] = [];
      for (let i = 0; out.length < n && i < 10_000; i++) if (progressShardOf(`${prefix}${i}`) === shard) out.push(`${prefix}${i}`);
      assert.equal(out.length, n, `${n} names in shard ${shard}`);
      return out;
    };
    const json = (d: { data: Buffer } | undefined): unknown => (d ? JSON.parse(d.data.toString('utf8')) : undefined);
    const endedPath = (store: TaskStore, taskId: string) => store.paths.ended(taskId);
    /** The end markers name exactly the complete shards with their counts, and the DEAD count is every shard's. */
    async function assertMarkersExact(store: TaskStore, taskId: string) {
      const summary = json(await store.coordinator.get(store.paths.progress(taskId))) as ProgressSummary;
      const want: ProgressSummary = { shards: 0, dead: 0 };
      const markers: string[] = [];
      for (let i = 0; i < PROGRESS_SHARDS; i++) {
        const s = json(await store.coordinator.get(store.paths.progressShard(taskId, i))) as ProgressShard;
        want.dead += s.DEAD;
        if ((s.targets ?? 0) === 0) continue;
        want.shards++;
        if (s.terminal >= (s.targets ?? 0)) markers.push(`${i}-${s.SUCCEEDED}-${s.DEAD}-${s.SKIPPED}`);
      }
      assert.deepEqual(summary, want, 'the progress record: shards with targets, DEAD over every shard');
      assert.deepEqual(((await store.coordinator.children(endedPath(store, taskId))) ?? []).sort(), markers.sort(), 'one end marker per complete shard, named by its counts');
    }
    /** Rewrites a task's progress records as a store before the end markers (and before `targets`, when told) wrote them. */
    async function asRecordedBefore(store: TaskStore, taskId: string, keepTargets: boolean) {
      const c = store.coordinator;
      await c.set(store.paths.progress(taskId), Buffer.from(JSON.stringify({ terminal: 0, SUCCEEDED: 0, DEAD: 0, SKIPPED: 0 })), -1);
      await c.remove(endedPath(store, taskId));
      for (let i = 0; i < PROGRESS_SHARDS; i++) {
        const s = json(await c.get(store.paths.progressShard(taskId, i))) as ProgressShard;
        const old: ProgressShard = { terminal: 0, SUCCEEDED: 0, DEAD: 0, SKIPPED: 0, ...(keepTargets ? { targets: s.targets ?? 0 } : {}) };
        await c.set(store.paths.progressShard(taskId, i), Buffer.from(JSON.stringify(old)), -1);
      }
    }

    it('counts a node end in its own progress shard only, and marks the shard ended only when the end completes it', async () => {
      const store = new TaskStore(await open(), env.root);
      // a and a2 count in one shard, b in another.
      const [a, a2] = inShard(progressShardOf('a'), 2) as [string, string];
      const b = ['b', 'c', 'd', 'e', 'f'].find((n) => progressShardOf(n) !== progressShardOf(a)) as string;
      const taskId = await recorded(store, [a, a2, b]);
      const shards = async () => {
        const out = new Map<number, string>();
        for (let i = 0; i < PROGRESS_SHARDS; i++) {
          const d = await store.coordinator.get(store.paths.progressShard(taskId, i));
          out.set(i, `${d?.stat.version}:${d?.data.toString()}`);
        }
        return out;
      };
      const version = async (path: string) => (await store.coordinator.get(path))?.stat.version;
      const before = await shards();
      assert.equal(before.size, PROGRESS_SHARDS);
      const rootBefore = await version(store.paths.progress(taskId));
      await store.updateNode(taskId, a, (r) => ({ ...r, state: 'SUCCEEDED' }));
      const after = await shards();
      const changed = [...after.keys()].filter((i) => after.get(i) !== before.get(i));
      assert.deepEqual(changed, [progressShardOf(a)]);
      assert.deepEqual(await store.coordinator.children(endedPath(store, taskId)), [], 'no marker while the shard has a target left');
      assert.deepEqual(await store.getProgress(taskId), { terminal: 1, SUCCEEDED: 1, DEAD: 0, SKIPPED: 0 });
      await store.updateNode(taskId, a2, (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.deepEqual(await store.coordinator.children(endedPath(store, taskId)), [`${progressShardOf(a)}-2-0-0`], 'the end completing the shard marks it');
      assert.equal(await version(store.paths.progress(taskId)), rootBefore, 'the progress record is not written by ends that do not move the DEAD count');
      await assertMarkersExact(store, taskId);
      await store.updateNode(taskId, b, (r) => ({ ...r, state: 'DEAD' }));
      assert.equal(await version(store.paths.progress(taskId)), (rootBefore ?? 0) + 1, 'a DEAD end counts in the progress record');
      assert.deepEqual(await store.getProgress(taskId), { terminal: 3, SUCCEEDED: 2, DEAD: 1, SKIPPED: 0 });
      await assertMarkersExact(store, taskId);
      assert.equal((await store.settleIfDone(taskId))?.state, 'failed');
    });

    it('counts and settles a task recorded before the counts were split (one progress record, no shards)', async () => {
      const store = new TaskStore(await open(), env.root);
      const taskId = await recorded(store);
      await asRecordedBefore(store, taskId, false);
      for (let i = 0; i < PROGRESS_SHARDS; i++) await store.coordinator.remove(store.paths.progressShard(taskId, i));
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal(await store.settleIfDone(taskId, 'a'), undefined, 'not done while b is QUEUED');
      await store.updateNode(taskId, 'b', (r) => ({ ...r, state: 'DEAD' }));
      const root = await store.coordinator.get(store.paths.progress(taskId));
      assert.deepEqual(JSON.parse(root?.data.toString() ?? '{}'), { terminal: 2, SUCCEEDED: 1, DEAD: 1, SKIPPED: 0 });
      assert.equal(await store.countDead(taskId), 1);
      assert.equal((await store.settleIfDone(taskId, 'b'))?.state, 'failed');
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
      await assertMarkersExact(store, taskId);
    });

    it("a node's end reads its shard alone (and the DEAD count when it moves); settling after one's own end lists the markers only when it completed its shard", async () => {
      // Two runner sessions write the ends, each settling after its own end as a runner does.
      const hooked = [new InterleavedCoordinator(await open()), new InterleavedCoordinator(await open())];
      const stores = hooked.map((h) => new TaskStore(h, env.root));
      const s0 = stores[0] as TaskStore;
      const nodes = Array.from({ length: 40 }, (_, i) => `n${i}`);
      const taskId = await recorded(s0, nodes);
      const left = new Map<number, number>();
      for (const n of nodes) left.set(progressShardOf(n), (left.get(progressShardOf(n)) ?? 0) + 1);
      const shardsWithTargets = left.size;
      // A fixed shuffle, so that shards complete one after another and not in node order.
      const order = nodes.map((n, i) => ({ n, k: (i * 17) % 41 })).sort((a, b) => a.k - b.k).map((x) => x.n);
      let requests = 0;
      let listings = 0;
      const name = (c: { method: string; path: string }) =>
        `${c.method} ${c.path === s0.paths.progress(taskId) ? 'progress' : c.path.startsWith(`${s0.paths.progress(taskId)}/`) ? 'shard' : c.path === s0.paths.task(taskId) ? 'task' : c.path === endedPath(s0, taskId) ? 'ended' : 'node'}`;
      for (const [i, n] of order.entries()) {
        const h = hooked[i % 2] as InterleavedCoordinator;
        const s = stores[i % 2] as TaskStore;
        h.calls.length = 0;
        const dead = i === 3;
        await s.updateNode(taskId, n, (r) => ({ ...r, state: dead ? 'DEAD' : 'SUCCEEDED' }));
        const shard = progressShardOf(n);
        left.set(shard, (left.get(shard) ?? 0) - 1);
        const completes = left.get(shard) === 0;
        assert.deepEqual(h.calls.map(name), ['get node', 'get shard', ...(dead ? ['get progress'] : []), 'transaction node'], `end of ${n}`);
        requests += h.calls.length - 2;
        h.calls.length = 0;
        const settled = await s.settleIfDone(taskId, n);
        const last = i === order.length - 1;
        const want = last ? ['children ended', 'exists ended', 'children ended', 'get task', 'transaction ended'] : completes ? ['children ended'] : [];
        assert.deepEqual(h.calls.map(name), want, `settling after the end of ${n}`);
        listings += h.calls.filter((c) => c.method === 'children').length;
        requests += h.calls.filter((c) => c.method !== 'transaction').length;
        if (!last) assert.equal(settled, undefined, `not done after ${i + 1} of ${nodes.length} ends`);
        else assert.equal(settled?.state, 'failed', 'the last end settles the task');
      }
      assert.equal(listings, shardsWithTargets + 1, 'one listing per shard completed, and one more to settle');
      assert.equal(requests, nodes.length + 1 + shardsWithTargets + 3, 'per end one shard read; one DEAD count read; a listing per completed shard; three reads to settle');
      assert.equal((await s0.getTask(taskId))?.value.reason, '1 of 40 nodes did not succeed (1 dead, 0 skipped)');
      await assertMarkersExact(s0, taskId);
    });

    it('settling for an end written elsewhere (a duplicate work item, a redrive) reads the progress record and lists the markers until every shard is complete', async () => {
      const { hooked, slow, other } = await twoActors();
      const nodes = ['a', 'b', 'c', 'd'];
      const taskId = await recorded(other, nodes);
      for (const [i, n] of nodes.entries()) {
        await other.updateNode(taskId, n, (r) => ({ ...r, state: 'SUCCEEDED' }));
        hooked.calls.length = 0;
        const settled = await slow.settleIfDone(taskId, n);
        const last = i === nodes.length - 1;
        assert.deepEqual(
          hooked.calls.map((c) => `${c.method} ${c.path}`),
          [
            `get ${slow.paths.progress(taskId)}`,
            `children ${endedPath(slow, taskId)}`,
            ...(last ? [`exists ${endedPath(slow, taskId)}`, `children ${endedPath(slow, taskId)}`, `get ${slow.paths.task(taskId)}`, `transaction ${endedPath(slow, taskId)}`] : []),
          ],
        );
        assert.equal(settled?.state, last ? 'succeeded' : undefined);
      }
    });

    it("a node's end that loses its shard's counter to another end retries on the shard alone", async () => {
      const { hooked, slow, other } = await twoActors();
      const [a, b, c] = inShard(progressShardOf('a'), 3) as [string, string, string];
      const taskId = await recorded(other, [a, b, c]);
      // Just before a's end is written, b's end lands in the same shard: a's transaction fails on the counter.
      const race = hooked.once(
        (x) => x.method === 'transaction' && x.ops.some((op) => op.path === slow.paths.node(taskId, a)),
        async () => void (await other.updateNode(taskId, b, (r) => ({ ...r, state: 'SUCCEEDED' }))),
      );
      const known = await slow.getNode(taskId, a);
      hooked.calls.length = 0;
      const after = await slow.updateNodeVersioned(taskId, a, (r) => ({ ...r, state: 'SUCCEEDED' }), known);
      assert.ok(race.fired);
      assert.equal(after?.value.state, 'SUCCEEDED');
      const shard = slow.paths.progressShard(taskId, progressShardOf(a));
      assert.deepEqual(hooked.calls.map((x) => `${x.method} ${x.path === shard ? 'shard' : x.path === slow.paths.node(taskId, a) ? 'node' : x.path}`), ['get shard', 'transaction node', 'get shard', 'transaction node']);
      assert.deepEqual(await other.getProgress(taskId), { terminal: 2, SUCCEEDED: 2, DEAD: 0, SKIPPED: 0 });
      assert.equal((await other.getNode(taskId, a))?.version, (known?.version ?? 0) + 1);
      assert.equal(await slow.settleIfDone(taskId, a), undefined);
      await other.updateNode(taskId, c, (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal((await other.settleIfDone(taskId, c))?.state, 'succeeded');
    });

    it('two ends completing the last two shards at once do not race each other: neither write is retried, the task settles once', async () => {
      const { hooked, slow, other } = await twoActors();
      const a = 'a';
      const b = ['b', 'c', 'd', 'e', 'f'].find((n) => progressShardOf(n) !== progressShardOf(a)) as string;
      const taskId = await recorded(other, [a, b]);
      // a's end has read its shard (and the DEAD count); b's end completes its shard just before a's write.
      const race = hooked.once(
        (x) => x.method === 'transaction' && x.ops.some((op) => op.path === slow.paths.node(taskId, a)),
        async () => void (await other.updateNode(taskId, b, (r) => ({ ...r, state: 'SUCCEEDED' }))),
      );
      hooked.calls.length = 0;
      await slow.updateNode(taskId, a, (r) => ({ ...r, state: 'DEAD' }));
      assert.ok(race.fired);
      const kinds = hooked.calls.map((x) => `${x.method} ${x.path === slow.paths.progress(taskId) ? 'progress' : x.path.startsWith(slow.paths.progress(taskId)) ? 'shard' : 'node'}`);
      assert.deepEqual(kinds, ['get node', 'get shard', 'get progress', 'transaction node'], 'one round: the two shards complete without touching one record');
      const settled = [await other.settleIfDone(taskId, b), await slow.settleIfDone(taskId, a)];
      assert.equal(settled.filter((x) => x !== undefined).length, 1, 'settled once');
      const task = (await other.getTask(taskId))?.value;
      assert.equal(task?.state, 'failed');
      assert.equal(task?.reason, '1 of 2 nodes did not succeed (1 dead, 0 skipped)');
      await assertMarkersExact(other, taskId);
    });

    it('concurrent ends from four sessions settle the task exactly once, with exact counts, in every order of the shard completions', async () => {
      const stores = await Promise.all([0, 1, 2, 3].map(async () => new TaskStore(await open(), env.root)));
      const s0 = stores[0] as TaskStore;
      for (let round = 0; round < 5; round++) {
        const nodes = Array.from({ length: 24 }, (_, i) => `r${round}-n${i}`);
        const taskId = await recorded(s0, nodes);
        const settled = await Promise.all(
          nodes.map(async (n, i) => {
            const s = stores[(i + round) % 4] as TaskStore;
            await s.updateNode(taskId, n, (r) => ({ ...r, state: i % 7 === 0 ? 'DEAD' : 'SUCCEEDED' }));
            // And a duplicate work item of every fourth node, settling on another session.
            const dup = i % 4 === 0 ? (stores[(i + round + 1) % 4] as TaskStore).settleIfDone(taskId, n) : Promise.resolve(undefined);
            return [await s.settleIfDone(taskId, n), await dup];
          }),
        );
        assert.equal(settled.flat().filter((x) => x !== undefined).length, 1, `round ${round}: settled once`);
        assert.equal((await s0.getTask(taskId))?.value.state, 'failed', `round ${round}`);
        assert.deepEqual(await s0.getProgress(taskId), { terminal: 24, SUCCEEDED: 20, DEAD: 4, SKIPPED: 0 });
        await assertMarkersExact(s0, taskId);
      }
    });

    it('a redriven DEAD node takes its complete shard back: the task waits for it, then settles on its new end', async () => {
      const store = new TaskStore(await open(), env.root);
      const nodes = ['a', 'b', 'c', 'd', 'e', 'f'];
      const taskId = await recorded(store, nodes);
      await store.setTaskState(taskId, 'running');
      for (const n of nodes.slice(1)) await store.updateNode(taskId, n, (r) => ({ ...r, state: 'SUCCEEDED' }));
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'DEAD' }));
      assert.deepEqual(await store.getEndCounts(taskId), { dead: 1, ended: 6 });
      // The redrive (dead-letters.ts) queues a again before anyone settled.
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'QUEUED' }));
      await assertMarkersExact(store, taskId);
      assert.equal((await store.getEndCounts(taskId))?.dead, 0);
      assert.ok(((await store.getEndCounts(taskId))?.ended ?? 6) < 6, 'not every node ended');
      assert.equal(await store.settleIfDone(taskId, 'a'), undefined);
      assert.equal(await store.settleIfDone(taskId), undefined);
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal((await store.settleIfDone(taskId, 'a'))?.state, 'succeeded');
      await assertMarkersExact(store, taskId);
    });

    it("settles at a node's end a task whose shards were recorded without their target counts", async () => {
      const store = new TaskStore(await open(), env.root);
      const taskId = await recorded(store, ['a', 'b', 'c']);
      await asRecordedBefore(store, taskId, false);
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'SUCCEEDED' }));
      await store.updateNode(taskId, 'b', (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal(await store.settleIfDone(taskId, 'b'), undefined);
      await store.updateNode(taskId, 'c', (r) => ({ ...r, state: 'DEAD' }));
      assert.equal(await store.countDead(taskId), 1);
      assert.equal((await store.settleIfDone(taskId, 'c'))?.state, 'failed');
    });

    it('settles a task whose shards have target counts but no end markers (recorded before them), from either session', async () => {
      const { hooked, slow, other } = await twoActors();
      const [a, a2] = inShard(progressShardOf('a'), 2) as [string, string];
      const b = ['b', 'c', 'd', 'e', 'f'].find((n) => progressShardOf(n) !== progressShardOf(a)) as string;
      const taskId = await recorded(other, [a, a2, b]);
      await asRecordedBefore(other, taskId, true);
      await slow.updateNode(taskId, a, (r) => ({ ...r, state: 'SUCCEEDED' }));
      hooked.calls.length = 0;
      assert.equal(await slow.settleIfDone(taskId, a), undefined);
      assert.deepEqual(hooked.calls, [], "its shard still had a target to end: nothing read");
      await other.updateNode(taskId, b, (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal(await slow.settleIfDone(taskId, b), undefined);
      await slow.updateNode(taskId, a2, (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal(JSON.stringify(json(await other.coordinator.get(other.paths.progress(taskId)))), JSON.stringify({ terminal: 0, SUCCEEDED: 0, DEAD: 0, SKIPPED: 0 }), 'nothing is made up for it');
      assert.equal((await slow.settleIfDone(taskId, a2))?.state, 'succeeded');
    });

    it('the circuit breaker reads the DEAD count and the list of end markers, not every shard', async () => {
      const { hooked, slow, other } = await twoActors();
      const taskId = await oneDead(other);
      hooked.calls.length = 0;
      assert.equal((await tripBreaker(slow, taskId))?.state, 'halted');
      const beforeWrite = hooked.calls.slice(0, hooked.calls.findIndex((c) => c.method !== 'get' && c.method !== 'children'));
      assert.deepEqual(beforeWrite.map((c) => `${c.method} ${c.path}`), [`get ${slow.paths.progress(taskId)}`, `children ${endedPath(slow, taskId)}`, `get ${slow.paths.task(taskId)}`]);
      assert.ok(!hooked.calls.some((c) => c.method === 'children' && c.path === slow.paths.progress(taskId)), 'no listing of the shards');
      await assertMarkersExact(other, taskId);
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
