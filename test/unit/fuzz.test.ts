// Bad input never crashes the router or a runner: 10,000 malformed, truncated, oversized and wrongly-typed
// messages go to the global queue and to a runner's node queue; each one ends in a dead-letter queue with
// a reason, and a valid task sent in the middle of them still completes.
import assert from 'node:assert/strict';
import { DLQ_ATTR } from '../../core/queue/dead-letter.js';
import { MemoryCoordinatorStore } from '../../core/coordination/memory-coordinator.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { encodeTaskMessage, encodeWorkMessage, newTaskId, parseTaskMessage } from '../../core/task/task.js';
import type { QueueMessage } from '../../core/queue/work-queue.js';
import { freshQueuePrefix, freshZkRoot } from '../support/env.js';
import { Harness } from '../support/harness.js';
import { Probe } from '../support/probe.js';
import { prng } from '../support/prng.js';

export function malformedBodies(count: number, seed: number, valid: { task: string; work: string }): string[] {
  const rnd = prng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const randomText = (n: number) => Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(rnd() * 0x2fff))).join('');
  const wrongValues: unknown[] = [null, true, 0, -1, 1.5, Number.MAX_VALUE, '', 'x'.repeat(300), [], {}, [1, 2], { a: { b: {} } }];
  let serial = 0;
  const mutate = (json: string): string => {
    const o = JSON.parse(json) as Record<string, unknown>;
    // A fresh id per message: two identical task messages are one task delivered twice, which is dropped
    // as a redelivery, not dead-lettered.
    if (o.type === 'task') o.task_id = `fuzz-${seed}-${serial++}`;
    const keys = Object.keys(o);
    const k = pick(keys);
    const r = rnd();
    if (r < 0.4) o[k] = pick(wrongValues);
    else if (r < 0.6) delete o[k];
    else if (r < 0.8) o[`extra_${Math.floor(rnd() * 100)}`] = pick(wrongValues);
    else if (typeof o.spec === 'object' && o.spec) {
      const spec = o.spec as Record<string, unknown>;
      spec[pick(['limit', 'nodes', 'retry', 'timeout', 'action', 'cluster', 'args', 'max_failures'])] = pick(wrongValues);
    } else o.v = pick([0, 2, '1']);
    return JSON.stringify(o);
  };
  const kinds: Array<() => string> = [
    () => randomText(1 + Math.floor(rnd() * 200)),
    () => valid.task.slice(0, 1 + Math.floor(rnd() * (valid.task.length - 1))),
    () => valid.work.slice(0, 1 + Math.floor(rnd() * (valid.work.length - 1))),
    () => mutate(valid.task),
    () => mutate(valid.work),
    () => JSON.stringify(pick(wrongValues)),
    () => `${'['.repeat(5000)}${']'.repeat(5000)}`,
    () => `{"type":"task","v":1,"pad":"${'A'.repeat(300 * 1024)}"}`,
    () => '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"type":"work","v":1}',
    () => JSON.stringify({ type: pick(['task', 'work', 'other']), v: 1, task_id: pick(['../../etc', 'a/b', '', 'ok-id']), cluster: pick(['kafka:events', 5]), node: pick(['n01', {}]), action: 'probe' }),
  ];
  return Array.from({ length: count }, () => pick(kinds)());
}

async function drainAll(h: Harness, queue: string, expected: number, timeoutMs: number): Promise<QueueMessage[]> {
  const out: QueueMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < expected && Date.now() < deadline) {
    const msgs = await h.queue.receive(queue, { max: 10, waitSec: 1, visibilitySec: 60 });
    for (const m of msgs) {
      out.push(m);
      await h.queue.delete(queue, m.receiptHandle);
    }
  }
  return out;
}

describe('fuzz: malformed messages at the router and a runner', function () {
  this.timeout(180_000);
  let h: Harness | undefined;

  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('dead-letters 10,000 bad messages with a reason, never crashes, and still completes the valid task', async () => {
    const queues = new MemoryQueueStore();
    const zk = new MemoryCoordinatorStore();
    const probe = new Probe();
    h = new Harness({
      backend: { queue: () => new MemoryWorkQueue({ store: queues }), session: async () => zk.session(), cleanup: () => zk.stop() },
      cluster: 'kafka:events',
      nodes: ['n01', 'n02'],
      zkRoot: freshZkRoot(),
      queuePrefix: freshQueuePrefix(),
      actions: [probe.action()],
      visibilitySec: 30,
    });
    await h.start();
    const problems: Error[] = [];
    for (const r of h.routers) r.on('problem', (e) => problems.push(e));
    for (const r of h.runners.values()) r.on('problem', (e) => problems.push(e));

    const spec = h.spec({ limit: 1, args: { ms: 5 } });
    const validTask = encodeTaskMessage({ taskId: newTaskId(), spec, emittedBy: { kind: 'cli', user: 't' }, emittedAt: new Date().toISOString() });
    const validWork = encodeWorkMessage({ taskId: newTaskId(), cluster: 'kafka:events', node: 'n01', action: 'probe' });
    // A mutation can leave a task valid (say, `args` replaced by {}); such a task is routed, not
    // dead-lettered, so only the ones the router must refuse are kept.
    const registry = h.registry();
    const routable = (body: string) => {
      try {
        const t = parseTaskMessage(body);
        registry.parseArgs(registry.get(t.spec.action, t.spec.version), t.spec.args);
        return true;
      } catch {
        return false;
      }
    };
    const bodies = malformedBodies(12_000, 20261120, { task: validTask, work: validWork }).filter((b) => !routable(b)).slice(0, 10_000);
    assert.equal(bodies.length, 10_000);
    const nodeQueue = h.names.node('kafka:events', 'n01');
    await h.queue.ensureQueue({ name: nodeQueue, deadLetter: h.names.clusterDlq('kafka:events'), maxReceiveCount: 10, visibilityTimeoutSec: 30 });

    const toGlobal = bodies.filter((_, i) => i % 2 === 0);
    const toRunner = bodies.filter((_, i) => i % 2 === 1);
    let taskId = '';
    for (let i = 0; i < toGlobal.length; i++) {
      if (i === Math.floor(toGlobal.length / 2)) taskId = await h.submit({ limit: 1, args: { ms: 5 } });
      await h.queue.send(h.names.global, { body: toGlobal[i] as string });
      await h.queue.send(nodeQueue, { body: toRunner[i] as string });
    }
    const { task } = await h.waitFinal(taskId, 120_000);
    assert.equal(task.state, 'succeeded', 'the valid task completed among the bad ones');

    const globalDead = await drainAll(h, h.names.globalDlq, toGlobal.length, 60_000);
    const runnerDead = await drainAll(h, h.names.clusterDlq('kafka:events'), toRunner.length, 60_000);
    assert.equal(globalDead.length, toGlobal.length, 'every bad task message is dead-lettered');
    assert.equal(runnerDead.length, toRunner.length, 'every bad work item is dead-lettered');
    for (const m of [...globalDead, ...runnerDead]) {
      assert.ok((m.attributes[DLQ_ATTR.reason] ?? '').length > 0, 'with a reason');
      assert.ok(m.attributes[DLQ_ATTR.code], 'and an error code');
    }
    assert.deepEqual(problems.map((e) => e.message), [], 'no unexpected failure in the router or the runners');
    assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
    // Still alive: a second valid task goes through.
    const again = await h.submit({ limit: 2, args: { ms: 5 } });
    assert.equal((await h.waitFinal(again)).task.state, 'succeeded');
  });
});
