// The in-memory Coordinator: the shared contract, plus what only it can simulate cheaply (suspend/resume).
import assert from 'node:assert/strict';
import { CoordinatorError, type Coordinator } from '../../core/coordination/coordinator.js';
import { MemoryCoordinatorStore, type MemoryCoordinator } from '../../core/coordination/memory-coordinator.js';
import { coordinatorContract, recordingWatcher, stateRecorder, within } from '../contract/coordinator.contract.js';

coordinatorContract('MemoryCoordinator', async () => {
  const store = new MemoryCoordinatorStore();
  return {
    root: '/t',
    open: async (): Promise<Coordinator> => store.session(),
    cleanup: () => store.stop(),
    expire: (c) => store.expire(c as MemoryCoordinator),
  };
});

describe('MemoryCoordinator (memory only)', function () {
  let store: MemoryCoordinatorStore;
  beforeEach(() => {
    store = new MemoryCoordinatorStore();
  });
  afterEach(() => store.stop());

  it('suspend emits suspended and fails calls with CONNECTION_LOSS; resume emits reconnected, same session, ephemerals intact', async function () {
    const s = store.session();
    const other = store.session();
    const states = stateRecorder(s);
    const path = await s.create('/member', undefined, 'ephemeral');
    const id = s.sessionId;

    store.suspend(s);
    await within(states.until('suspended'), "'suspended'");
    await assert.rejects(s.get('/member'), (e: unknown) => e instanceof CoordinatorError && e.code === 'CONNECTION_LOSS');
    assert.ok(await other.exists(path));

    store.resume(s);
    await within(states.until('reconnected'), "'reconnected'");
    assert.deepEqual(states.states, ['suspended', 'reconnected']);
    assert.equal(s.sessionId, id);
    assert.equal((await s.exists(path))?.ephemeralOwner, id);
  });

  it('a call in flight when the connection goes rejects with CONNECTION_LOSS', async function () {
    const s = store.session();
    const pending = s.create('/x');
    store.suspend(s);
    await assert.rejects(pending, (e: unknown) => e instanceof CoordinatorError && e.code === 'CONNECTION_LOSS');
    assert.equal(await store.session().exists('/x'), undefined);
  });

  it('delivers watch events that happened while suspended after reconnected', async function () {
    const s = store.session();
    const other = store.session();
    const order: string[] = [];
    s.onSessionState((st) => order.push(st));
    const w = recordingWatcher();
    await s.exists('/later', (e) => {
      order.push(`watch:${e.type}`);
      w.watcher(e);
    });
    store.suspend(s);
    await other.create('/later');
    store.resume(s);
    assert.deepEqual(await within(w.next, 'the held watch event'), { type: 'created', path: '/later' });
    assert.deepEqual(order, ['suspended', 'reconnected', 'watch:created']);
  });

  it('never settles a call or fires a watch synchronously', async function () {
    const s = store.session();
    let settled = false;
    const p = s.create('/sync').then(() => (settled = true));
    assert.equal(settled, false);
    await p;
    let fired = false;
    await s.exists('/sync', () => (fired = true));
    const done = s.set('/sync', Buffer.from('x'), -1);
    assert.equal(fired, false);
    await done;
  });

  it('stop() closes every session', async function () {
    const s = store.session();
    await s.create('/e', undefined, 'ephemeral');
    await store.stop();
    await assert.rejects(s.get('/e'), (e: unknown) => e instanceof CoordinatorError && e.code === 'CLOSED');
    assert.throws(() => store.session(), CoordinatorError);
  });
});
