// The supervisor's sweep (router/supervisor.ts): which nodes it gives up on, and what a sweep reads — the live
// members' names and the node records of targets with no live runner, not every node record of a big task.
import assert from 'node:assert/strict';
import { encodeSegment, toJsonBuffer, type Coordinator } from '../../core/coordination/coordinator.js';
import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { silentLogger } from '../../core/logger.js';
import { listDeadLetters } from '../../core/queue/dead-letters.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { TaskStore } from '../../core/task/task-store.js';
import { newTaskId } from '../../core/task/task.js';
import { Supervisor } from '../../router/supervisor.js';

const CLUSTER = 'c:1';

/** A coordinator that records the path of every read (get, children) it passes on. */
function recordingReads(inner: Coordinator, reads: string[]): Coordinator {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'get' || prop === 'children') {
        return (path: string, ...rest: unknown[]) => {
          reads.push(`${prop} ${path}`);
          return (v as (...a: unknown[]) => unknown).call(target, path, ...rest);
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('supervisor', () => {
  const zk = new MemoryCoordinatorStore();
  after(() => zk.stop());

  async function routedTask(store: TaskStore, nodes: string[]): Promise<string> {
    const taskId = newTaskId();
    const spec = parseTaskSpec({ name: 't', action: 'noop', cluster: CLUSTER, nodes, max_failures: nodes.length });
    await store.createTask({ task: { taskId, spec, emittedBy: { kind: 'cli', user: 'u' }, emittedAt: new Date().toISOString() }, targets: nodes, limit: 2, maxFailures: nodes.length, state: 'routing' });
    await store.setTaskState(taskId, 'routed');
    return taskId;
  }

  it('gives up on the QUEUED targets without a live runner only, reading no other node record nor any member record', async () => {
    const root = `/sup-${newTaskId()}`;
    const admin = new TaskStore(zk.session(), root);
    await admin.init();
    const nodes = Array.from({ length: 40 }, (_, i) => `n${String(i).padStart(2, '0')}`);
    const taskId = await routedTask(admin, nodes);
    // Live runners on every node but n05, n17 and n33; n33 has already succeeded (its runner left since).
    await admin.coordinator.mkdirp(admin.paths.clusterMembers(CLUSTER));
    for (const n of nodes.filter((x) => !['n05', 'n17', 'n33'].includes(x))) {
      await admin.coordinator.create(`${admin.paths.clusterMembers(CLUSTER)}/${encodeSegment(n)}`, toJsonBuffer({ node: n, cluster: CLUSTER }), 'ephemeral');
    }
    await admin.updateNode(taskId, 'n33', (r) => ({ ...r, state: 'SUCCEEDED' }));

    const reads: string[] = [];
    const store = new TaskStore(recordingReads(zk.session(), reads), root);
    const queues = new MemoryQueueStore();
    const queue = new MemoryWorkQueue({ store: queues });
    const names = queueNames('t');
    await queue.ensureQueue({ name: names.cluster(CLUSTER), deadLetter: names.clusterDlq(CLUSTER), maxReceiveCount: 10, visibilityTimeoutSec: 30 });
    const now = Date.now() + 11 * 60_000;
    const supervisor = new Supervisor({ store, queue, names, logger: silentLogger, graceMs: 10 * 60_000, now: () => now });

    assert.deepEqual(await supervisor.sweep(), [
      { taskId, node: 'n05' },
      { taskId, node: 'n17' },
    ]);
    for (const n of ['n05', 'n17']) {
      const rec = (await admin.getNode(taskId, n))?.value;
      assert.equal(rec?.state, 'DEAD');
      assert.match(rec?.error ?? '', /^NO_RUNNER: no live runner for n\d\d 10m after the task was routed$/);
    }
    assert.equal((await admin.getNode(taskId, 'n33'))?.value.state, 'SUCCEEDED');
    assert.equal((await admin.getNode(taskId, 'n06'))?.value.state, 'QUEUED');
    const letters = await listDeadLetters(queue, [names.clusterDlq(CLUSTER)], { taskId });
    assert.deepEqual(letters.map((l) => l.node).sort(), ['n05', 'n17']);

    // What the sweep read before acting: the node records of the three targets with no live runner, no other.
    const nodeReads = reads.filter((r) => r.startsWith(`get ${admin.paths.nodes(taskId)}/`)).map((r) => r.slice(r.lastIndexOf('/') + 1));
    assert.deepEqual([...new Set(nodeReads)].sort(), ['n05', 'n17', 'n33']);
    assert.equal(reads.filter((r) => r.startsWith(`get ${admin.paths.clusterMembers(CLUSTER)}/`)).length, 0, 'no member record read');
    assert.equal(reads.filter((r) => r === `children ${admin.paths.nodes(taskId)}`).length, 0, 'the node records are not listed');
    await queue.close();
  });

  it('leaves a task alone before its grace period, and every node alone while their runners live', async () => {
    const root = `/sup-${newTaskId()}`;
    const store = new TaskStore(zk.session(), root);
    await store.init();
    const taskId = await routedTask(store, ['a', 'b']);
    const queue = new MemoryWorkQueue({ store: new MemoryQueueStore() });
    let now = Date.now() + 60_000;
    const supervisor = new Supervisor({ store, queue, names: queueNames('t'), logger: silentLogger, graceMs: 10 * 60_000, now: () => now });
    assert.deepEqual(await supervisor.sweep(), [], 'within the grace period');
    await store.coordinator.mkdirp(store.paths.clusterMembers(CLUSTER));
    for (const n of ['a', 'b']) await store.coordinator.create(`${store.paths.clusterMembers(CLUSTER)}/${n}`, Buffer.alloc(0), 'ephemeral');
    now += 20 * 60_000;
    assert.deepEqual(await supervisor.sweep(), [], 'every target has a live runner');
    assert.equal((await store.getNode(taskId, 'a'))?.value.state, 'QUEUED');
    await queue.close();
  });
});
