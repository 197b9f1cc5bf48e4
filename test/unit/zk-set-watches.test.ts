// batchWatches (core/coordination/zk-coordinator.ts): the watches a session sends again on a reconnect, split
// into SetWatches requests of at most 128 KB of paths as the Java client splits them.
import assert from 'node:assert/strict';
import { batchWatches, SET_WATCHES_MAX_BYTES, type WatchPaths } from '../../core/coordination/zk-coordinator.js';

const paths = (prefix: string, n: number, len: number) => Array.from({ length: n }, (_, i) => `/${prefix}/${String(i).padStart(5, '0')}`.padEnd(len, 'x'));
const bytes = (b: WatchPaths) => [...b.dataWatches, ...b.existWatches, ...b.childWatches].reduce((n, p) => n + Buffer.byteLength(p), 0);

describe('SetWatches batches', () => {
  it('keeps a small session in one request, as the library sent it', () => {
    const all = { dataWatches: ['/a', '/b'], existWatches: ['/c'], childWatches: ['/d'] };
    assert.deepEqual(batchWatches(all), [all]);
  });

  it('sends nothing when the session has no watch', () => {
    assert.deepEqual(batchWatches({ dataWatches: [], existWatches: [], childWatches: [] }), []);
  });

  it('splits 1.4 MB of paths into requests of at most 128 KB, each path once, in order, kind by kind', () => {
    const all = { dataWatches: paths('d', 6000, 120), existWatches: paths('e', 5000, 100), childWatches: paths('c', 2000, 90) };
    const batches = batchWatches(all);
    assert.ok(batches.length >= Math.ceil(bytes(all) / SET_WATCHES_MAX_BYTES), `${batches.length} batches`);
    for (const b of batches) assert.ok(bytes(b) <= SET_WATCHES_MAX_BYTES, `a batch of ${bytes(b)} bytes`);
    for (const kind of ['dataWatches', 'existWatches', 'childWatches'] as const) assert.deepEqual(batches.flatMap((b) => b[kind]), all[kind]);
    // Full batches: a new one starts only when the next path would not fit.
    for (const [i, b] of batches.slice(0, -1).entries()) {
      const next = batches[i + 1] as WatchPaths;
      const first = next.dataWatches[0] ?? next.existWatches[0] ?? next.childWatches[0] ?? '';
      assert.ok(bytes(b) + Buffer.byteLength(first) > SET_WATCHES_MAX_BYTES, `batch ${i} had room for ${first}`);
    }
  });

  it('sends a path longer than the bound alone', () => {
    const long = `/${'y'.repeat(200)}`;
    assert.deepEqual(batchWatches({ dataWatches: ['/a', long, '/b'], existWatches: [], childWatches: [] }, 100), [
      { dataWatches: ['/a'], existWatches: [], childWatches: [] },
      { dataWatches: [long], existWatches: [], childWatches: [] },
      { dataWatches: ['/b'], existWatches: [], childWatches: [] },
    ]);
  });
});
