// The terminal progress bar of `run --wait` / `status --watch`: counts, the rate of the rollout so far and
// the ETA it implies, the line fitting the terminal, redrawn in place on a TTY and absent elsewhere.
import assert from 'node:assert/strict';
import type { NodeRecord, NodeState, TaskRecord } from '../../core/task/task.js';
import { countRollout, estimate, firstStart, renderProgressBar, shortDuration } from '../../cli/progress/progress-bar.js';
import { ProgressReporter, progressReporterFor } from '../../cli/progress/progress-reporter.js';

const T0 = Date.parse('2026-11-30T10:00:00.000Z');
const iso = (ms: number) => new Date(T0 + ms).toISOString();

function node(name: string, state: NodeState, startedMs?: number): NodeRecord {
  return { node: name, state, attempts: startedMs === undefined ? 0 : 1, updatedAt: iso(0), history: startedMs === undefined ? [] : [{ attempt: 1, startedAt: iso(startedMs) }] };
}

const task = { state: 'running', paused: undefined } as unknown as TaskRecord;

describe('progress bar', () => {
  const nodes = [node('a', 'SUCCEEDED', 0), node('b', 'SUCCEEDED', 30_000), node('c', 'DEAD', 60_000), node('d', 'STARTED', 90_000), node('e', 'WAITING'), node('f', 'QUEUED'), node('g', 'FAILED', 100_000), node('h', 'SKIPPED')];

  it('counts the nodes by what they are doing', () => {
    assert.deepEqual(countRollout(nodes), { total: 8, succeeded: 2, dead: 1, skipped: 1, running: 1, waiting: 2, retrying: 1 });
    assert.equal(firstStart(nodes), T0);
  });

  it('estimates the rate from the rollout so far and the ETA from it', () => {
    // 4 done in 2 minutes since the first start: 2 nodes/min, 4 left: 2 minutes.
    const e = estimate(countRollout(nodes), T0, T0 + 120_000);
    assert.equal(e.done, 4);
    assert.equal(e.perMinute, 2);
    assert.equal(e.etaMs, 120_000);
    const none = estimate(countRollout([node('x', 'STARTED', 0), node('y', 'WAITING')]), T0, T0 + 60_000);
    assert.equal(none.perMinute, undefined, 'nothing finished: no rate yet');
    assert.equal(none.etaMs, undefined);
  });

  it('renders counts, rate and ETA in one line that fits the terminal', () => {
    const c = countRollout(nodes);
    const line = renderProgressBar(task, c, estimate(c, T0, T0 + 120_000), 125_000, 100);
    assert.equal(line.replace(/^\[█+░+\]/, "[bar]"), "[bar]  4/8  ✓2 ✗1 ⤼1  ▶1 ⧗2 ↻1  2.0 nodes/min  ETA 2m  (2m05s)");
    assert.ok([...line].length <= 100, `${[...line].length} columns`);
    const early = renderProgressBar(task, countRollout([node('x', 'STARTED', 0)]), { done: 0, perMinute: undefined, etaMs: undefined }, 1000, 60);
    assert.match(early, /0\/1 .* -- nodes\/min {2}ETA --/);
    assert.match(renderProgressBar({ state: 'halted', paused: undefined }, c, estimate(c, T0, T0 + 1000), 1000), /HALTED$/);
  });

  it('formats durations for people', () => {
    assert.deepEqual([5_000, 65_000, 120_000, 3_725_000].map(shortDuration), ['5s', '1m05s', '2m', '1h02m']);
  });

  it('redraws in place on a terminal and leaves the last bar with a newline', () => {
    const writes: string[] = [];
    const tty = { isTTY: true, columns: 80, write: (s: string) => (writes.push(s), true) };
    const r = progressReporterFor(tty);
    assert.ok(r instanceof ProgressReporter);
    r.update(task, nodes);
    r.update(task, nodes.map((n) => (n.node === 'd' ? { ...n, state: 'SUCCEEDED' as const } : n)));
    r.done();
    assert.ok(writes.length >= 3);
    assert.ok(writes.slice(0, -1).every((w) => w.startsWith('\r\x1b[2K[')), 'each draw returns to the line start and clears it');
    assert.match(writes[writes.length - 2] ?? '', /5\/8/);
    assert.equal(writes[writes.length - 1], '\n');
  });

  it('draws nothing when the stream is not a terminal (plain lines are kept)', () => {
    assert.equal(progressReporterFor({ isTTY: false, write: () => true }), undefined);
    assert.equal(progressReporterFor({ write: () => true }), undefined);
  });
});
