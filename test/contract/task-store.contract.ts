// TaskStore behaviour that must hold on every Coordinator adapter.
import assert from 'node:assert/strict';
import type { Coordinator } from '../../core/coordinator.js';
import { parseTaskSpec } from '../../core/task-spec.js';
import { TaskStore } from '../../core/task-store.js';
import { newTaskId } from '../../core/task.js';

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
    afterEach(async () => {
      await Promise.allSettled(sessions.splice(0).map((s) => s.close()));
      await env.cleanup();
    });

    async function recorded(store: TaskStore) {
      const taskId = newTaskId();
      const spec = parseTaskSpec({ name: 't', action: 'noop', cluster: 'c:1', nodes: ['a', 'b'] });
      assert.equal(await store.createTask({ task: { taskId, spec, emittedBy: { kind: 'cli', user: 'u' }, emittedAt: new Date().toISOString() }, targets: ['a', 'b'], limit: 1, maxFailures: 1, state: 'routing' }), true);
      return taskId;
    }

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
  });
}
