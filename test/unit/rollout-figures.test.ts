// The rollout benchmark's figures (bench/rollout/figures.ts): concurrency, limit breaches and slot handoffs
// from pre_check start / post_check end events, percentiles, the keepers' counts summed.
import assert from 'node:assert/strict';
import { addCounts, busyMs, keeperDelta, overlap, pct, sumKeepers } from '../../bench/rollout/figures.js';
import type { ProbeEvent } from '../../bench/rollout/probe.js';

const ev = (node: string, kind: 'start' | 'end', t: number): ProbeEvent => ({ taskId: 't1', node, kind, t });

describe('rollout benchmark figures', () => {
  it('counts the largest concurrency and the handoffs, a release to the next start, in time order', () => {
    // Two slots: a and b run together; c starts 5 ms after a ends, d 7 ms after b ends. Given out of order.
    const events = [ev('d', 'start', 1027), ev('a', 'start', 0), ev('c', 'end', 2005), ev('b', 'start', 10), ev('a', 'end', 1000), ev('c', 'start', 1005), ev('b', 'end', 1020), ev('d', 'end', 2030)];
    const o = overlap(events, 2);
    assert.equal(o.max, 2);
    assert.deepEqual(o.breaches, []);
    assert.deepEqual(o.handoffs, [5, 7]);
  });

  it('reports each start past the limit, with how long after the latest end it came', () => {
    const events = [ev('a', 'start', 0), ev('b', 'start', 1), ev('a', 'end', 100), ev('c', 'start', 99.5), ev('b', 'end', 200), ev('c', 'end', 300)];
    const o = overlap(events, 2);
    assert.equal(o.max, 3);
    assert.equal(o.breaches.length, 1);
    assert.equal(o.breaches[0]?.node, 'c');
    assert.equal(o.breaches[0]?.concurrent, 3);
    // No end before it: the distance is from -Infinity, i.e. it overlapped everything that had started.
    assert.equal(o.breaches[0]?.afterLastEndMs, Infinity);
  });

  it('tells when the limit-th node started (the first wave full, when no slot was reused before)', () => {
    assert.equal(overlap([ev('a', 'start', 10), ev('b', 'start', 40), ev('c', 'start', 1015), ev('a', 'end', 1010), ev('d', 'start', 1012)], 2).filledAt, 40);
    assert.equal(overlap([ev('a', 'start', 10), ev('a', 'end', 30), ev('b', 'start', 40)], 2).filledAt, 40);
    // Fewer nodes than the limit: the last start fills what there is to fill.
    assert.equal(overlap([ev('a', 'start', 10), ev('b', 'start', 25), ev('a', 'end', 500), ev('b', 'end', 600)], 5).filledAt, 25);
    assert.equal(overlap([], 5).filledAt, undefined);
  });

  it('takes an end and a start at the same instant as a handoff, not as an overlap', () => {
    const o = overlap([ev('a', 'start', 0), ev('b', 'start', 50), ev('a', 'end', 50), ev('b', 'end', 90)], 1);
    assert.equal(o.max, 1);
    assert.deepEqual(o.breaches, []);
    assert.deepEqual(o.handoffs, [0]);
  });

  it('sums the time each node spent from pre_check start to post_check end, per task', () => {
    const other = (node: string, kind: 'start' | 'end', t: number): ProbeEvent => ({ taskId: 't2', node, kind, t });
    // a twice (a retry: 100 + 50), b once (300), a of another task (10); an end without its start counts nothing.
    const events = [ev('a', 'start', 0), ev('a', 'end', 100), ev('b', 'start', 50), other('a', 'start', 60), other('a', 'end', 70), ev('a', 'start', 200), ev('a', 'end', 250), ev('b', 'end', 350), ev('c', 'end', 400)];
    assert.equal(busyMs(events), 100 + 50 + 300 + 10);
  });

  it('takes the nearest-rank percentile, NaN for no samples', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(pct(xs, 50), 50);
    assert.equal(pct(xs, 99), 99);
    assert.equal(pct(xs, 100), 100);
    assert.equal(pct([7], 99), 7);
    assert.ok(Number.isNaN(pct([], 50)));
  });

  it('sums the keepers of every host and subtracts a snapshot field by field', () => {
    const a = { rounds: 3, reads: 30, writes: 2, grants: 5, conflicts: 1 };
    const b = { rounds: 1, reads: 4, writes: 1, grants: 1, conflicts: 0 };
    assert.deepEqual(sumKeepers([a, b]), { rounds: 4, reads: 34, writes: 3, grants: 6, conflicts: 1 });
    assert.deepEqual(keeperDelta(a, b), { rounds: 2, reads: 26, writes: 1, grants: 4, conflicts: 1 });
    assert.deepEqual(sumKeepers([]), { rounds: 0, reads: 0, writes: 0, grants: 0, conflicts: 0 });
  });

  it('adds request counts by name', () => {
    const m = addCounts(new Map([['ReceiveMessage', 2]]), { ReceiveMessage: 3, DeleteMessage: 1 });
    assert.deepEqual(Object.fromEntries(m), { ReceiveMessage: 5, DeleteMessage: 1 });
  });
});
