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
    /** The progress summary agrees with the shards it sums (the invariant every write keeps). */
    async function assertSummaryExact(store: TaskStore, taskId: string) {
      const summary = json(await store.coordinator.get(store.paths.progress(taskId))) as ProgressSummary;
      const want: ProgressSummary = { shards: 0, complete: 0, ended: { terminal: 0, SUCCEEDED: 0, DEAD: 0, SKIPPED: 0 }, dead: 0 };
      for (let i = 0; i < PROGRESS_SHARDS; i++) {
        const s = json(await store.coordinator.get(store.paths.progressShard(taskId, i))) as ProgressShard;
        want.dead += s.DEAD;
        if ((s.targets ?? 0) === 0) continue;
        want.shards++;
        if (s.terminal < (s.targets ?? 0)) continue;
        want.complete++;
        for (const k of ['terminal', 'SUCCEEDED', 'DEAD', 'SKIPPED'] as const) want.ended[k] += s[k];
      }
      assert.deepEqual(summary, want, 'the progress summary sums the complete shards');
    }
    /** Rewrites a task's progress records as a store before the summary (and before `targets`, when told) wrote them. */
    async function asRecordedBefore(store: TaskStore, taskId: string, keepTargets: boolean) {
      const c = store.coordinator;
      await c.set(store.paths.progress(taskId), Buffer.from(JSON.stringify({ terminal: 0, SUCCEEDED: 0, DEAD: 0, SKIPPED: 0 })), -1);
      for (let i = 0; i < PROGRESS_SHARDS; i++) {
        const s = json(await c.get(store.paths.progressShard(taskId, i))) as ProgressShard;
        const old: ProgressShard = { terminal: 0, SUCCEEDED: 0, DEAD: 0, SKIPPED: 0, ...(keepTargets ? { targets: s.targets ?? 0 } : {}) };
        await c.set(store.paths.progressShard(taskId, i), Buffer.from(JSON.stringify(old)), -1);
      }
    }
    const isProgress = (store: TaskStore, taskId: string) => (c: { path: string }) => c.path === store.paths.progress(taskId) || c.path.startsWith(`${store.paths.progress(taskId)}/`);

    it('counts a node end in its own progress shard only, and writes the summary only when the end completes its shard', async () => {
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
      const summaryVersion = async () => (await store.coordinator.get(store.paths.progress(taskId)))?.stat.version;
      const before = await shards();
      assert.equal(before.size, PROGRESS_SHARDS);
      const rootBefore = await summaryVersion();
      await store.updateNode(taskId, a, (r) => ({ ...r, state: 'SUCCEEDED' }));
      const after = await shards();
      const changed = [...after.keys()].filter((i) => after.get(i) !== before.get(i));
      assert.deepEqual(changed, [progressShardOf(a)]);
      assert.equal(await summaryVersion(), rootBefore, 'the summary is not written while the shard has a target left');
      assert.deepEqual(await store.getProgress(taskId), { terminal: 1, SUCCEEDED: 1, DEAD: 0, SKIPPED: 0 });
      await store.updateNode(taskId, a2, (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal(await summaryVersion(), (rootBefore ?? 0) + 1, 'the end completing the shard writes the summary');
      await assertSummaryExact(store, taskId);
      await store.updateNode(taskId, b, (r) => ({ ...r, state: 'DEAD' }));
      assert.deepEqual(await store.getProgress(taskId), { terminal: 3, SUCCEEDED: 2, DEAD: 1, SKIPPED: 0 });
      await assertSummaryExact(store, taskId);
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
      await assertSummaryExact(store, taskId);
    });

    it("a node's end reads its shard, and the summary only when it completes the shard; settling after one's own end reads nothing until the last", async () => {
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
      let progressReads = 0;
      let summaryReads = 0;
      const name = (c: { method: string; path: string }) =>
        `${c.method} ${c.path === s0.paths.progress(taskId) ? 'summary' : c.path.startsWith(`${s0.paths.progress(taskId)}/`) ? 'shard' : c.path === s0.paths.task(taskId) ? 'task' : 'node'}`;
      for (const [i, n] of order.entries()) {
        const h = hooked[i % 2] as InterleavedCoordinator;
        const s = stores[i % 2] as TaskStore;
        h.calls.length = 0;
        await s.updateNode(taskId, n, (r) => ({ ...r, state: i === 3 ? 'DEAD' : 'SUCCEEDED' }));
        const shard = progressShardOf(n);
        left.set(shard, (left.get(shard) ?? 0) - 1);
        const completes = left.get(shard) === 0;
        // (A DEAD end moves the summary's DEAD count too.)
        const readsSummary = completes || i === 3;
        if (readsSummary) summaryReads++;
        assert.deepEqual(h.calls.map(name), ['get node', 'get shard', ...(readsSummary ? ['get summary'] : []), 'transaction node'], `end of ${n}`);
        progressReads += h.calls.filter(isProgress(s, taskId)).length;
        h.calls.length = 0;
        const settled = await s.settleIfDone(taskId, n);
        const last = i === order.length - 1;
        assert.deepEqual(h.calls.map(name), last ? ['get task', 'transaction summary'] : [], `settling after the end of ${n}`);
        if (!last) assert.equal(settled, undefined, `not done after ${i + 1} of ${nodes.length} ends`);
        else assert.equal(settled?.state, 'failed', 'the last end settles the task');
      }
      assert.ok(summaryReads <= shardsWithTargets + 1);
      assert.equal(progressReads, nodes.length + summaryReads, 'one shard read per end, one summary read per shard completed (and per DEAD end)');
      assert.equal((await s0.getTask(taskId))?.value.reason, '1 of 40 nodes did not succeed (1 dead, 0 skipped)');
      await assertSummaryExact(s0, taskId);
    });

    it('settling for an end written elsewhere (a duplicate work item, a redrive) reads the summary alone until every shard is complete', async () => {
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
          [`get ${slow.paths.progress(taskId)}`, ...(last ? [`get ${slow.paths.task(taskId)}`, `transaction ${slow.paths.progress(taskId)}`] : [])],
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

    it('of two ends completing the last two shards at once, the one written second settles and the other reads nothing', async () => {
      const { hooked, slow, other } = await twoActors();
      const a = 'a';
      const b = ['b', 'c', 'd', 'e', 'f'].find((n) => progressShardOf(n) !== progressShardOf(a)) as string;
      const taskId = await recorded(other, [a, b]);
      // a's end has read its shard and the summary (0 of 2 complete); b's end completes its shard first.
      const race = hooked.once(
        (x) => x.method === 'transaction' && x.ops.some((op) => op.path === slow.paths.node(taskId, a)),
        async () => void (await other.updateNode(taskId, b, (r) => ({ ...r, state: 'SUCCEEDED' }))),
      );
      hooked.calls.length = 0;
      await slow.updateNode(taskId, a, (r) => ({ ...r, state: 'DEAD' }));
      assert.ok(race.fired);
      // a's transaction failed on the summary (its shard's op passed): the next round reads the summary alone.
      const kinds = hooked.calls.map((x) => `${x.method} ${x.path === slow.paths.progress(taskId) ? 'summary' : x.path.startsWith(slow.paths.progress(taskId)) ? 'shard' : 'node'}`);
      assert.deepEqual(kinds, ['get node', 'get shard', 'get summary', 'transaction node', 'get summary', 'transaction node']);
      hooked.calls.length = 0;
      assert.equal(await other.settleIfDone(taskId, b), undefined, "b's end saw a's shard incomplete: a's end settles");
      const settled = await slow.settleIfDone(taskId, a);
      assert.equal(settled?.state, 'failed');
      assert.deepEqual(hooked.calls.map((x) => x.method), ['get', 'transaction'], 'the last end reads the task record only');
      assert.equal(settled?.reason, '1 of 2 nodes did not succeed (1 dead, 0 skipped)');
      await assertSummaryExact(other, taskId);
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
        await assertSummaryExact(s0, taskId);
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
      await assertSummaryExact(store, taskId);
      assert.equal((await store.getEndCounts(taskId))?.dead, 0);
      assert.ok(((await store.getEndCounts(taskId))?.ended ?? 6) < 6, 'not every node ended');
      assert.equal(await store.settleIfDone(taskId, 'a'), undefined);
      assert.equal(await store.settleIfDone(taskId), undefined);
      await store.updateNode(taskId, 'a', (r) => ({ ...r, state: 'SUCCEEDED' }));
      assert.equal((await store.settleIfDone(taskId, 'a'))?.state, 'succeeded');
      await assertSummaryExact(store, taskId);
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

    it('settles a task whose shards have target counts but no summary (recorded before it), from either session', async () => {
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
      assert.equal(JSON.stringify(json(await other.coordinator.get(other.paths.progress(taskId)))), JSON.stringify({ terminal: 0, SUCCEEDED: 0, DEAD: 0, SKIPPED: 0 }), 'no summary is made up for it');
      assert.equal((await slow.settleIfDone(taskId, a2))?.state, 'succeeded');
    });

    it('the circuit breaker reads one record to count the dead, not every shard', async () => {
      const { hooked, slow, other } = await twoActors();
      const taskId = await oneDead(other);
      hooked.calls.length = 0;
      assert.equal((await tripBreaker(slow, taskId))?.state, 'halted');
      const beforeWrite = hooked.calls.slice(0, hooked.calls.findIndex((c) => c.method !== 'get'));
      assert.deepEqual(beforeWrite.map((c) => `${c.method} ${c.path}`), [`get ${slow.paths.progress(taskId)}`, `get ${slow.paths.task(taskId)}`]);
      assert.ok(!hooked.calls.some((c) => c.method === 'children' && c.path === slow.paths.progress(taskId)), 'no listing of the shards');
      await assertSummaryExact(other, taskId);
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
