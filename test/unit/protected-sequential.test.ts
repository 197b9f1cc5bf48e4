// A create whose reply is lost with the connection may have been applied: the next create finds that znode and
// adopts it instead of making a second one that our own live session would hold for ever. For the keeper
// election, a second candidate of ours behind a phantom one would mean nobody ever keeps the cluster.
import assert from 'node:assert/strict';
import { BudgetStore } from '../../core/budget/budget-store.js';
import { BudgetKeeper } from '../../core/budget/keeper.js';
import { CoordinatorError, type Coordinator } from '../../core/coordination/coordinator.js';
import { MemoryCoordinatorStore, type MemoryCoordinator } from '../../core/coordination/memory-coordinator.js';
import { ProtectedSequential } from '../../core/coordination/protected-sequential.js';
import { zkPaths } from '../../core/coordination/zk-paths.js';
import { silentLogger } from '../../core/logger.js';
import { waitUntil } from '../support/wait-until.js';

/** The session, except that the next create under `dir` is applied and its reply then lost. */
function losingReplies(inner: MemoryCoordinator): { coordinator: Coordinator; loseNextUnder(dir: string): void; lost: () => number } {
  let dir: string | undefined;
  let lost = 0;
  const coordinator = new Proxy(inner, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (key === 'create') {
        return async (path: string, ...rest: unknown[]) => {
          const made = (await (v as (...a: unknown[]) => Promise<string>).call(target, path, ...rest)) as string;
          if (dir && path.startsWith(`${dir}/`)) {
            dir = undefined;
            lost++;
            throw new CoordinatorError('CONNECTION_LOSS', path, `reply lost (${made} was created)`);
          }
          return made;
        };
      }
      return (v as (...a: unknown[]) => unknown).bind(target);
    },
  });
  return { coordinator, loseNextUnder: (d) => (dir = d), lost: () => lost };
}

describe('protected sequential znodes', () => {
  const zk = new MemoryCoordinatorStore();
  after(() => zk.stop());

  it('after a lost reply, the next create adopts the znode that was made instead of making a second', async () => {
    const s = zk.session();
    await s.mkdirp('/p/requests');
    const { coordinator, loseNextUnder, lost } = losingReplies(s);
    const p = new ProtectedSequential(coordinator, '/p/requests', 'req-');
    loseNextUnder('/p/requests');
    await assert.rejects(p.create(Buffer.from('a')), (err: unknown) => err instanceof CoordinatorError && err.code === 'CONNECTION_LOSS');
    assert.equal(lost(), 1);
    const path = await p.create(Buffer.from('a'));
    const names = (await s.children('/p/requests')) ?? [];
    assert.equal(names.length, 1, `one znode, not two: ${names.join(', ')}`);
    assert.equal(path, `/p/requests/${names[0]}`);
    assert.deepEqual(await p.owned(), names);
    // Another creator's znodes are not ours.
    await new ProtectedSequential(s, '/p/requests', 'req-').create(Buffer.from('b'));
    assert.deepEqual(await p.owned(), names);
  });

  it('a keeper whose candidacy reply was lost after a session expiry still leads: no phantom candidate of its own ahead', async function () {
    this.timeout(20_000);
    const s = zk.session();
    const { coordinator, loseNextUnder, lost } = losingReplies(s);
    const paths = zkPaths('/keeper-lost-reply');
    const keeper = new BudgetKeeper({ store: new BudgetStore(coordinator, paths), cluster: 'redis:cache', by: 'n1', checks: {}, logger: silentLogger, tickMs: 50 });
    await keeper.start();
    try {
      await waitUntil('the keeper to lead', async () => keeper.isLeading);
      loseNextUnder(paths.keepers('redis:cache'));
      await zk.expire(s);
      await waitUntil('the lost reply', async () => lost() === 1);
      await waitUntil('the keeper to lead again, with one candidacy', async () => keeper.isLeading && ((await s.children(paths.keepers('redis:cache'))) ?? []).length === 1, 10_000);
    } finally {
      await keeper.stop();
    }
  });
});
