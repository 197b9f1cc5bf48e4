// The follower behind `run --wait`, `submit --wait`, `status --watch` and `dev` (cli/wait.ts): it rides out a
// suspended ZooKeeper session (says so, goes on), gives up after its bound with a BackendError (exit 3), says
// when no router has recorded the task, and every follower ends with the same exit for the same outcome.
import assert from 'node:assert/strict';
import { BackendError } from '../../core/errors.js';
import { MemoryCoordinatorStore, type MemoryCoordinator } from '../../core/coordination/memory-coordinator.js';
import { newTaskId, type Task } from '../../core/task/task.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { TaskStore } from '../../core/task/task-store.js';
import { tripBreaker } from '../../core/task/breaker.js';
import { TaskFollower } from '../../core/task/task-follower.js';
import { CoordinatorError } from '../../core/coordination/coordinator.js';
import { describeFailure, EXIT, ExitError, exitCodeFor } from '../../cli/handle-error.js';
import { taskOutcome, waitForTask } from '../../cli/wait.js';
import { within } from '../contract/coordinator.contract.js';

const ROOT = '/follow';

function newTask(nodes: string[], maxFailures = 1): Task {
  return {
    taskId: newTaskId(),
    spec: parseTaskSpec({ name: 'follow-me', action: 'noop', cluster: 'c:1', nodes, max_failures: maxFailures, owner: 'sre' }),
    emittedBy: { kind: 'cli', user: 'ana' },
    emittedAt: new Date().toISOString(),
  };
}

/** Resolves once `lines` has a line matching `re` (polled; bounded by `within`). */
async function line(lines: string[], re: RegExp, what: string): Promise<string> {
  return within(
    (async () => {
      for (;;) {
        const hit = lines.find((l) => re.test(l));
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 10));
      }
    })(),
    what,
    5000,
  );
}

describe('following a task (cli/wait.ts)', () => {
  let server: MemoryCoordinatorStore;
  let follower: MemoryCoordinator;
  let admin: TaskStore;
  let store: TaskStore;

  beforeEach(async () => {
    server = new MemoryCoordinatorStore();
    follower = server.session();
    admin = new TaskStore(server.session(), ROOT);
    store = new TaskStore(follower, ROOT);
    await admin.init();
  });
  afterEach(async () => {
    await server.stop();
  });

  it('rides out a suspended session: says ZooKeeper is unreachable, then back, and returns the end state', async () => {
    const t = newTask(['a']);
    await admin.createTask({ task: t, targets: ['a'], limit: 1, maxFailures: 1, state: 'routing' });
    const notes: string[] = [];
    const ac = new AbortController();
    const done = waitForTask(store, t.taskId, { out: (l) => notes.push(l), note: (l) => notes.push(`NOTE ${l}`), zk: 'zk1:2181', signal: ac.signal, giveUpMs: 60_000 });
    await line(notes, /0\/1 succeeded/, 'a first progress line');
    server.suspend(follower);
    // The follower reads again on the next change: make one while it cannot read.
    await admin.updateTask(t.taskId, (r) => ({ ...r, state: 'running' }));
    const down = await line(notes, /^NOTE .*unreachable/, 'the outage note');
    assert.match(down, /^NOTE taskerman: ZooKeeper at zk1:2181 is unreachable; still following task \S+ \(the task goes on without us\), giving up after 60s$/);
    await admin.updateNode(t.taskId, 'a', (r) => ({ ...r, state: 'SUCCEEDED', attempts: 1 }));
    await admin.settleIfDone(t.taskId);
    server.resume(follower);
    const r = await within(done, 'the follower to see the end', 10_000);
    assert.equal(r?.task.state, 'succeeded');
    assert.match(await line(notes, /^NOTE .*is back/, 'the back note'), /ZooKeeper at zk1:2181 is back after \d+s; following task/);
    assert.doesNotThrow(() => taskOutcome(r as NonNullable<typeof r>));
  });

  it('gives up after --give-up-after with a BackendError: exit 3, one line naming ZooKeeper and how to follow again', async () => {
    const t = newTask(['a']);
    await admin.createTask({ task: t, targets: ['a'], limit: 1, maxFailures: 1, state: 'routing' });
    const notes: string[] = [];
    const done = waitForTask(store, t.taskId, { out: (l) => notes.push(l), note: (l) => notes.push(l), zk: 'zk1:2181', giveUpMs: 300 });
    await line(notes, /0\/1 succeeded/, 'a first progress line');
    server.suspend(follower);
    await admin.updateTask(t.taskId, (r) => ({ ...r, state: 'running' }));
    const err = await within(done.then(() => undefined, (e: unknown) => e), 'the follower to give up', 10_000);
    assert.ok(err instanceof BackendError, String(err));
    const d = describeFailure(err);
    assert.equal(d.exit, EXIT.backend);
    assert.match(d.message, /^ZooKeeper at zk1:2181 unreachable for \d+s: stopped following task \S+$/);
    assert.match(d.hint ?? '', /taskerman status \S+ --watch/);
  });

  it('says after a few seconds that no router has recorded the task, and where it waits', async () => {
    const notes: string[] = [];
    const ac = new AbortController();
    const id = newTaskId();
    const done = waitForTask(store, id, { note: (l) => notes.push(l), signal: ac.signal, noRouterAfterMs: 200, pending: { queue: 'tp--global', region: 'eu-west-1', zkRoot: ROOT } });
    const said = await line(notes, /no router/, 'the no-router note');
    assert.equal(said, `taskerman: no router has picked up task ${id} after 0s: it waits in queue tp--global (region eu-west-1); is a router running with the same --queue-prefix, --region and --zk-root (${ROOT})?`);
    ac.abort();
    assert.equal(await within(done, 'the follower to stop', 5000), undefined);
  });

  it('every follower exits the same for the same end: 0 only when the task succeeded (item 8)', () => {
    const base = { taskId: 't-1', spec: {} as never, emittedBy: { kind: 'cli' as const, user: 'a' }, emittedAt: '', targetCount: 0, limit: 1, maxFailures: 1, updatedAt: '' };
    assert.doesNotThrow(() => taskOutcome({ task: { ...base, state: 'succeeded' }, nodes: [] }));
    for (const state of ['failed', 'halted', 'cancelled'] as const) {
      try {
        taskOutcome({ task: { ...base, state, reason: 'why' }, nodes: [] });
        assert.fail(`${state} must not exit 0`);
      } catch (err) {
        assert.ok(err instanceof ExitError);
        assert.equal(exitCodeFor(err), EXIT.failed);
        assert.equal(err.message, `taskerman: task t-1 ended ${state}: why`);
      }
    }
  });

  it('a one-node task whose node died is failed, not "halted by the circuit breaker" (nothing was left to halt)', async () => {
    const t = newTask(['a'], 1);
    await admin.createTask({ task: t, targets: ['a'], limit: 1, maxFailures: 1, state: 'routing' });
    await admin.updateNode(t.taskId, 'a', (r) => ({ ...r, state: 'DEAD', attempts: 1, error: 'TIMEOUT: timed out' }));
    assert.equal(await tripBreaker(admin, t.taskId), undefined);
    const rec = (await admin.getTask(t.taskId))?.value;
    assert.equal(rec?.state, 'failed');
    assert.equal(rec?.reason, '1 of 1 nodes did not succeed (1 dead, 0 skipped)');
    // With nodes left to hold back, the breaker halts as before.
    const t2 = newTask(['a', 'b'], 1);
    await admin.createTask({ task: t2, targets: ['a', 'b'], limit: 1, maxFailures: 1, state: 'routing' });
    await admin.updateNode(t2.taskId, 'a', (r) => ({ ...r, state: 'DEAD', attempts: 1 }));
    assert.equal((await tripBreaker(admin, t2.taskId))?.state, 'halted');
  });
});

describe("the runner's TaskFollower after a ZooKeeper blip", () => {
  it('re-arms its watch when the session is back: a cancel made after a failed re-read still aborts the action', async () => {
    const server = new MemoryCoordinatorStore();
    try {
      const session = server.session();
      // The re-read a fired watch makes can fail (ZooKeeper away); this wrapper fails the next get on demand.
      let failNextGet = false;
      const flaky = new Proxy(session, {
        get(target, prop) {
          if (prop === 'get') {
            return (path: string, w?: Parameters<MemoryCoordinator['get']>[1]) => {
              if (failNextGet) {
                failNextGet = false;
                return Promise.reject(new CoordinatorError('CONNECTION_LOSS', path, 'not connected'));
              }
              return target.get(path, w);
            };
          }
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
      const admin = new TaskStore(server.session(), ROOT);
      await admin.init();
      const t = newTask(['a']);
      await admin.createTask({ task: t, targets: ['a'], limit: 1, maxFailures: 1, state: 'routing' });
      const f = new TaskFollower(new TaskStore(flaky, ROOT), t.taskId);
      assert.equal((await f.start())?.state, 'routing');
      failNextGet = true;
      // A pause: a change runners act on (the router's bookkeeping, `running`, wakes no follower).
      await admin.updateTask(t.taskId, (r) => ({ ...r, paused: { by: 'ana', at: new Date().toISOString() } }));
      await within(
        (async () => {
          while (failNextGet) await new Promise((r) => setTimeout(r, 5));
        })(),
        'the watch to fire and its re-read to fail',
        5000,
      );
      await admin.updateTask(t.taskId, (r) => ({ ...r, state: 'cancelled', cancelled: { by: 'ana', at: new Date().toISOString() } }));
      // The connection comes back (same session): the follower must watch again and see the cancel.
      server.suspend(session);
      server.resume(session);
      await within(
        new Promise<void>((resolve) => {
          if (f.cancelled.aborted) return resolve();
          f.cancelled.addEventListener('abort', () => resolve(), { once: true });
        }),
        'the follower to see the cancel',
        3000,
      );
      assert.equal(f.current?.state, 'cancelled');
      f.stop();
    } finally {
      await server.stop();
    }
  });
});
