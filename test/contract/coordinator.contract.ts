// The behaviour every adapter of the Coordinator port must have (ZooKeeper's, as far as Taskerman relies on
// it). Each test gets a fresh root from the factory and removes it afterwards. Nothing sleeps: tests wait
// for watch events and session states with a bounded timeout, and prove that something did NOT happen by
// ordering (a later event on the same session arrives after any earlier one would have).
import assert from 'node:assert/strict';
import { CoordinatorError, type Coordinator, type SessionState, type WatchEvent, type Watcher } from '../../core/coordination/coordinator.js';

export interface CoordinatorEnv {
  /** A new session. */
  open(): Promise<Coordinator>;
  /** A fresh absolute path that no other test uses; the contract creates it. */
  root: string;
  /** Closes every session opened through `open`. */
  cleanup(): Promise<void>;
  /** Forces the expiry of `c`'s session (as the server would); the contract then waits for `lost`. */
  expire?(c: Coordinator): Promise<void>;
}

const WAIT_MS = 10_000;

/** Resolves with `p`, or rejects when it takes longer than `ms`. */
export async function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A watcher that records every call; `next` resolves with the first. */
export function recordingWatcher(): { watcher: Watcher; events: WatchEvent[]; next: Promise<WatchEvent> } {
  const events: WatchEvent[] = [];
  let resolve!: (e: WatchEvent) => void;
  const next = new Promise<WatchEvent>((r) => (resolve = r));
  return {
    watcher: (e) => {
      events.push(e);
      resolve(e);
    },
    events,
    next,
  };
}

/** Records a session's states; `until(s)` resolves once `s` was seen (now or later). */
export function stateRecorder(c: Coordinator): { states: SessionState[]; until(s: SessionState): Promise<void>; stop(): void } {
  const states: SessionState[] = [];
  const waiters: { s: SessionState; resolve: () => void }[] = [];
  const stop = c.onSessionState((s) => {
    states.push(s);
    for (const w of waiters.filter((w) => w.s === s)) w.resolve();
  });
  return {
    states,
    stop,
    until: (s) => (states.includes(s) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ s, resolve }))),
  };
}

async function rejectsWith(p: Promise<unknown>, code: CoordinatorError['code'], path?: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof CoordinatorError, `expected a CoordinatorError, got ${String(err)}`);
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (path !== undefined) assert.equal(err.path, path);
    return true;
  });
}

const buf = (s: string): Buffer => Buffer.from(s, 'utf8');

export function coordinatorContract(name: string, factory: () => Promise<CoordinatorEnv>): void {
  describe(`Coordinator contract: ${name}`, function () {
    let env: CoordinatorEnv;
    let c: Coordinator;
    let root: string;
    const p = (...parts: string[]): string => [root, ...parts].join('/');

    beforeEach(async function () {
      env = await factory();
      root = env.root;
      c = await env.open();
      await c.mkdirp(root);
    });

    afterEach(async function () {
      try {
        const admin = await env.open();
        await admin.removeRecursive(root);
      } finally {
        await env.cleanup();
      }
    });

    describe('nodes and versions', function () {
      it('creates, reads, compares-and-sets and removes with versions', async function () {
        const path = p('n');
        assert.equal(await c.create(path, buf('v0')), path);
        const d0 = await c.get(path);
        assert.ok(d0);
        assert.equal(d0.data.toString(), 'v0');
        assert.equal(d0.stat.version, 0);
        assert.equal(d0.stat.numChildren, 0);
        assert.equal(d0.stat.ephemeralOwner, undefined);
        assert.equal(typeof d0.stat.ctime, 'number');
        assert.ok(d0.stat.ctime > 0 && d0.stat.mtime >= d0.stat.ctime);

        const s1 = await c.set(path, buf('v1'), 0);
        assert.equal(s1.version, 1);
        await rejectsWith(c.set(path, buf('stale'), 0), 'BAD_VERSION', path);
        const s2 = await c.set(path, buf('v2'), -1);
        assert.equal(s2.version, 2);
        assert.equal((await c.get(path))?.data.toString(), 'v2');
        assert.equal((await c.exists(path))?.version, 2);

        await rejectsWith(c.remove(path, 1), 'BAD_VERSION', path);
        await c.remove(path, 2);
        assert.equal(await c.get(path), undefined);
        assert.equal(await c.exists(path), undefined);
      });

      it('creates without data as an empty buffer and counts children', async function () {
        await c.create(p('e'));
        await c.create(p('e', 'a'));
        await c.create(p('e', 'b'));
        const d = await c.get(p('e'));
        assert.equal(d?.data.length, 0);
        assert.equal(d?.stat.numChildren, 2);
        assert.deepEqual((await c.children(p('e')))?.sort(), ['a', 'b']);
        assert.deepEqual(await c.children(p('e', 'a')), []);
      });

      it('reports NODE_EXISTS, NO_NODE, NOT_EMPTY and BAD_VERSION with the path', async function () {
        await c.create(p('x'));
        await rejectsWith(c.create(p('x')), 'NODE_EXISTS', p('x'));
        await rejectsWith(c.create(p('missing', 'child')), 'NO_NODE', p('missing', 'child'));
        await rejectsWith(c.remove(p('missing')), 'NO_NODE', p('missing'));
        await rejectsWith(c.set(p('missing'), buf('x'), -1), 'NO_NODE', p('missing'));
        await c.create(p('x', 'kid'));
        await rejectsWith(c.remove(p('x')), 'NOT_EMPTY', p('x'));
        await rejectsWith(c.set(p('x'), buf('x'), 7), 'BAD_VERSION', p('x'));
        assert.equal(await c.children(p('missing')), undefined);
        assert.equal(await c.exists(p('missing')), undefined);
        assert.equal(await c.get(p('missing')), undefined);
      });

      it('names sequential nodes with a 10-digit increasing suffix', async function () {
        await c.create(p('q'));
        const made: string[] = [];
        for (let i = 0; i < 3; i++) made.push(await c.create(p('q', 'item-'), buf(String(i)), 'persistent_sequential'));
        made.push(await c.create(p('q', 'item-'), undefined, 'ephemeral_sequential'));
        for (const m of made) assert.match(m, new RegExp(`^${p('q', 'item-')}\\d{10}$`));
        const seqs = made.map((m) => Number(m.slice(-10)));
        for (let i = 1; i < seqs.length; i++) assert.ok((seqs[i] ?? 0) > (seqs[i - 1] ?? 0), `not increasing: ${seqs.join(',')}`);
        assert.deepEqual((await c.children(p('q')))?.sort(), made.map((m) => m.slice(m.lastIndexOf('/') + 1)).sort());
        // A removed name is not reused.
        await c.remove(made[3] as string);
        const again = await c.create(p('q', 'item-'), undefined, 'persistent_sequential');
        assert.ok(Number(again.slice(-10)) > (seqs[3] ?? 0));
      });

      it('refuses children under an ephemeral node', async function () {
        await c.create(p('eph'), undefined, 'ephemeral');
        await assert.rejects(c.create(p('eph', 'kid')), CoordinatorError);
        assert.equal(await c.exists(p('eph', 'kid')), undefined);
      });
    });

    describe('transactions', function () {
      it('applies every op or none', async function () {
        await c.create(p('t'));
        await c.transaction([
          { op: 'create', path: p('t', 'a'), data: buf('a') },
          { op: 'create', path: p('t', 'a', 'b') },
          { op: 'set', path: p('t'), data: buf('t1'), version: 0 },
        ]);
        assert.equal((await c.get(p('t')))?.stat.version, 1);
        assert.equal((await c.get(p('t', 'a')))?.data.toString(), 'a');
        assert.ok(await c.exists(p('t', 'a', 'b')));

        await rejectsWith(
          c.transaction([
            { op: 'create', path: p('t', 'new') },
            { op: 'set', path: p('t'), data: buf('t2'), version: 1 },
            { op: 'remove', path: p('t', 'gone'), version: -1 },
            { op: 'create', path: p('t', 'later') },
          ]),
          'NO_NODE',
          p('t', 'gone'),
        );
        assert.equal(await c.exists(p('t', 'new')), undefined);
        assert.equal(await c.exists(p('t', 'later')), undefined);
        const t = await c.get(p('t'));
        assert.equal(t?.stat.version, 1);
        assert.equal(t?.data.toString(), 't1');

        await rejectsWith(
          c.transaction([
            { op: 'remove', path: p('t', 'a', 'b'), version: 0 },
            { op: 'create', path: p('t', 'a') },
          ]),
          'NODE_EXISTS',
          p('t', 'a'),
        );
        assert.ok(await c.exists(p('t', 'a', 'b')));
      });

      it('treats version 0 as a real version inside a transaction, not as "any"', async function () {
        await c.create(p('cas'), buf('0'));
        await c.transaction([{ op: 'set', path: p('cas'), data: buf('1'), version: 0 }]);
        assert.equal((await c.get(p('cas')))?.stat.version, 1);

        await rejectsWith(c.transaction([{ op: 'set', path: p('cas'), data: buf('lost'), version: 0 }]), 'BAD_VERSION', p('cas'));
        await rejectsWith(c.transaction([{ op: 'remove', path: p('cas'), version: 0 }]), 'BAD_VERSION', p('cas'));
        const d = await c.get(p('cas'));
        assert.equal(d?.data.toString(), '1');
        assert.equal(d?.stat.version, 1);

        await c.transaction([{ op: 'remove', path: p('cas'), version: 1 }]);
        assert.equal(await c.exists(p('cas')), undefined);
      });

      it('a check op guards the transaction on another node\'s version (version 0 included)', async function () {
        await c.create(p('guard'), buf('g'));
        await c.create(p('target'), buf('0'));
        await c.transaction([
          { op: 'check', path: p('guard'), version: 0 },
          { op: 'set', path: p('target'), data: buf('1'), version: 0 },
        ]);
        assert.equal((await c.get(p('target')))?.data.toString(), '1');
        assert.equal((await c.get(p('guard')))?.stat.version, 0, 'a check changes nothing');

        await c.set(p('guard'), buf('moved'), 0);
        await rejectsWith(
          c.transaction([
            { op: 'set', path: p('target'), data: buf('2'), version: 1 },
            { op: 'check', path: p('guard'), version: 0 },
          ]),
          'BAD_VERSION',
          p('guard'),
        );
        assert.equal((await c.get(p('target')))?.data.toString(), '1', 'nothing applied when the check fails');
        await rejectsWith(c.transaction([{ op: 'check', path: p('nope'), version: 0 }]), 'NO_NODE', p('nope'));
      });
    });

    describe('tree helpers', function () {
      it('mkdirp is idempotent and safe when sessions race', async function () {
        const deep = p('a', 'b', 'c');
        await c.mkdirp(deep);
        await c.mkdirp(deep);
        assert.ok(await c.exists(deep));

        const other = await env.open();
        const racy = p('r', 's', 't', 'u');
        await Promise.all([c.mkdirp(racy), other.mkdirp(racy), c.mkdirp(racy), other.mkdirp(p('r', 's'))]);
        assert.ok(await c.exists(racy));
        assert.equal((await other.exists(racy))?.ephemeralOwner, undefined);
      });

      it('removeRecursive removes a 3-level tree and tolerates a missing one', async function () {
        const top = p('tree');
        for (const a of ['a', 'b']) for (const b of ['x', 'y']) await c.mkdirp(`${top}/${a}/${b}/leaf`);
        await c.create(`${top}/a/x/leaf/seq-`, undefined, 'persistent_sequential');
        await c.removeRecursive(top);
        assert.equal(await c.exists(top), undefined);
        assert.deepEqual(await c.children(root), []);
        await c.removeRecursive(top);
      });
    });

    describe('ephemerals and sessions', function () {
      it('removes ephemerals when their session closes, seen through a watch from another session', async function () {
        const owner = await env.open();
        const path = await owner.create(p('member'), buf('me'), 'ephemeral');
        const watcher = await env.open();
        const w = recordingWatcher();
        const st = await watcher.exists(path, w.watcher);
        assert.equal(st?.ephemeralOwner, owner.sessionId);
        assert.notEqual(owner.sessionId, watcher.sessionId);

        await owner.close();
        const ev = await within(w.next, 'the deletion of the ephemeral');
        assert.deepEqual(ev, { type: 'deleted', path });
        assert.equal(await watcher.exists(path), undefined);
      });

      it('rejects calls with CLOSED after close()', async function () {
        const s = await env.open();
        await s.close();
        await rejectsWith(s.get(p('any')), 'CLOSED');
        await rejectsWith(s.create(p('any')), 'CLOSED');
        await s.close();
      });

      it('expiry emits lost then connected, removes ephemerals, fires watches with "session", and the session stays usable', async function () {
        if (!env.expire) this.skip();
        const victim = await env.open();
        const states = stateRecorder(victim);
        const oldId = victim.sessionId;
        const path = await victim.create(p('lease-'), undefined, 'ephemeral_sequential');
        const own = recordingWatcher();
        await victim.get(p('never'), own.watcher);
        const observer = await env.open();
        const seen = recordingWatcher();
        assert.ok(await observer.exists(path, seen.watcher));

        await env.expire(victim);
        await within(states.until('lost'), "'lost'");
        await within(states.until('connected'), "'connected' after 'lost'");
        // A real server may show `suspended` first (the connection drops before the expiry is known).
        assert.deepEqual(states.states.slice(states.states.indexOf('lost')), ['lost', 'connected'], `states: ${states.states.join(',')}`);

        assert.deepEqual(await within(own.next, "the victim's watch"), { type: 'session', path: p('never') });
        assert.deepEqual(await within(seen.next, 'the deletion of the ephemeral'), { type: 'deleted', path });
        assert.equal(await observer.exists(path), undefined);

        assert.notEqual(victim.sessionId, oldId);
        const again = await victim.create(p('after'), undefined, 'ephemeral');
        assert.equal((await observer.exists(again))?.ephemeralOwner, victim.sessionId);
        states.stop();
      });
    });

    describe('watches', function () {
      it('a children watch fires once, for the first change', async function () {
        const dir = p('dir');
        await c.create(dir);
        const observer = await env.open();
        const w = recordingWatcher();
        assert.deepEqual(await observer.children(dir, w.watcher), []);
        await c.create(`${dir}/one`);
        await c.create(`${dir}/two`);
        assert.deepEqual(await within(w.next, 'the children watch'), { type: 'children', path: dir });

        // Any second firing of w would reach `observer` before this later event.
        const later = recordingWatcher();
        assert.deepEqual((await observer.children(dir, later.watcher))?.sort(), ['one', 'two']);
        await c.remove(`${dir}/one`);
        await within(later.next, 'the second children watch');
        assert.equal(w.events.length, 1);
      });

      it('a watcher registered twice on a path still fires once', async function () {
        await c.create(p('twice'));
        const observer = await env.open();
        const w = recordingWatcher();
        await observer.get(p('twice'), w.watcher);
        await observer.exists(p('twice'), w.watcher);
        await c.set(p('twice'), buf('x'), -1);
        assert.deepEqual(await within(w.next, 'the data watch'), { type: 'data', path: p('twice') });
        const later = recordingWatcher();
        await observer.get(p('twice'), later.watcher);
        await c.set(p('twice'), buf('y'), -1);
        await within(later.next, 'the second data watch');
        assert.equal(w.events.length, 1);
      });

      it('an exists watch fires on creation', async function () {
        const observer = await env.open();
        const w = recordingWatcher();
        assert.equal(await observer.exists(p('soon'), w.watcher), undefined);
        await c.create(p('soon'));
        assert.deepEqual(await within(w.next, 'the exists watch'), { type: 'created', path: p('soon') });
      });

      it('a get watch fires on data change, on deletion, and on creation when the node was absent', async function () {
        await c.create(p('g'));
        const observer = await env.open();
        const onData = recordingWatcher();
        await observer.get(p('g'), onData.watcher);
        await c.set(p('g'), buf('1'), 0);
        assert.deepEqual(await within(onData.next, 'the data watch'), { type: 'data', path: p('g') });

        const onDelete = recordingWatcher();
        assert.equal((await observer.get(p('g'), onDelete.watcher))?.data.toString(), '1');
        await c.remove(p('g'));
        assert.deepEqual(await within(onDelete.next, 'the deletion watch'), { type: 'deleted', path: p('g') });

        const onCreate = recordingWatcher();
        assert.equal(await observer.get(p('g'), onCreate.watcher), undefined);
        await c.create(p('g'));
        assert.deepEqual(await within(onCreate.next, 'the creation watch'), { type: 'created', path: p('g') });
      });

      it('a children watch on a node that goes away fires on its deletion', async function () {
        await c.create(p('d'));
        const observer = await env.open();
        const w = recordingWatcher();
        await observer.children(p('d'), w.watcher);
        await c.remove(p('d'));
        assert.deepEqual(await within(w.next, 'the deletion watch'), { type: 'deleted', path: p('d') });
      });

      it('a children watch on a missing node fires when it is created', async function () {
        const observer = await env.open();
        const w = recordingWatcher();
        assert.equal(await observer.children(p('later'), w.watcher), undefined);
        await c.create(p('later'));
        assert.deepEqual(await within(w.next, 'the creation watch'), { type: 'created', path: p('later') });
      });

      it('outstanding watches fire with "session" when their session closes', async function () {
        const s = await env.open();
        const w = recordingWatcher();
        await s.children(root, w.watcher);
        await s.close();
        assert.deepEqual(await within(w.next, 'the session watch'), { type: 'session', path: root });
      });
    });
  });
}
