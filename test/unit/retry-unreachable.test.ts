// A daemon's start survives ZooKeeper being unreachable for a moment: each step runs again while the
// connection is lost (and only then), within a time budget.
import assert from 'node:assert/strict';
import { CoordinatorError } from '../../core/coordination/coordinator.js';
import { MemoryCoordinatorStore, type MemoryCoordinator } from '../../core/coordination/memory-coordinator.js';
import { retryWhileUnreachable } from '../../core/coordination/retry-unreachable.js';
import { silentLogger } from '../../core/logger.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { freshQueuePrefix, freshZkRoot } from '../support/env.js';
import { Harness } from '../support/harness.js';
import { Probe } from '../support/probe.js';
import { waitUntil } from '../support/wait-until.js';

describe('retryWhileUnreachable', () => {
  const lost = () => new CoordinatorError('CONNECTION_LOSS', '/x');

  it('runs the step again while ZooKeeper is unreachable, and returns its result', async () => {
    let calls = 0;
    const out = await retryWhileUnreachable(
      'step',
      async () => {
        if (++calls < 3) throw lost();
        return 'done';
      },
      { log: silentLogger, firstPauseMs: 1 },
    );
    assert.equal(out, 'done');
    assert.equal(calls, 3);
  });

  it('throws any other error at once', async () => {
    let calls = 0;
    await assert.rejects(
      retryWhileUnreachable(
        'step',
        async () => {
          calls++;
          throw new CoordinatorError('NO_NODE', '/x');
        },
        { log: silentLogger, firstPauseMs: 1 },
      ),
      (err: unknown) => err instanceof CoordinatorError && err.code === 'NO_NODE',
    );
    assert.equal(calls, 1);
  });

  it('gives up with the last error once its budget is spent, or when told to stop', async () => {
    let calls = 0;
    const always = async (): Promise<never> => {
      calls++;
      throw lost();
    };
    await assert.rejects(retryWhileUnreachable('step', always, { log: silentLogger, firstPauseMs: 5, budgetMs: 30 }), (err: unknown) => err instanceof CoordinatorError && err.code === 'CONNECTION_LOSS');
    assert.ok(calls >= 2 && calls <= 4, `calls: ${calls}`);
    calls = 0;
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(retryWhileUnreachable('step', always, { log: silentLogger, signal: ac.signal }));
    assert.equal(calls, 1);
  });
});

describe('runner start while ZooKeeper is unreachable', function () {
  this.timeout(30_000);
  const zk = new MemoryCoordinatorStore();
  const queues = new MemoryQueueStore();
  let h: Harness | undefined;
  after(() => zk.stop());
  afterEach(async () => h?.stop());

  it('waits for the connection to come back, then starts and runs its node', async () => {
    const probe = new Probe();
    const sessions = new Map<string, MemoryCoordinator>();
    let mkdirps = 0;
    h = new Harness({
      backend: { queue: () => new MemoryWorkQueue({ store: queues }), session: async () => zk.session(), cleanup: async () => undefined },
      cluster: 'redis:cache',
      nodes: [],
      zkRoot: freshZkRoot(),
      queuePrefix: freshQueuePrefix(),
      actions: [probe.action()],
      wrapSession: (c, who) => {
        sessions.set(who, c as MemoryCoordinator);
        if (who !== 'runner:n01') return c;
        // Counts the runner's attempts at its first start-up step.
        return new Proxy(c, {
          get(t, key) {
            const v = Reflect.get(t, key, t) as unknown;
            if (key === 'mkdirp') return (path: string) => (mkdirps++, t.mkdirp(path));
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
          },
        });
      },
    });
    await h.start();
    const runner = await h.newRunner('n01');
    const session = sessions.get('runner:n01');
    assert.ok(session);
    zk.suspend(session);
    let started = false;
    const starting = runner.start().then(() => (started = true));
    // Its first step failed and was tried again (three folders a try): still starting, not failed.
    await waitUntil('the runner to try again', async () => mkdirps >= 6);
    assert.equal(started, false, 'no start while ZooKeeper is unreachable');
    zk.resume(session);
    await starting;
    const taskId = await h.submit({ nodes: ['n01'], limit: 1, args: { ms: 1 } });
    assert.equal((await h.waitFinal(taskId)).task.state, 'succeeded');
    assert.equal(probe.executions(taskId).get('n01'), 1);
  });
});
