// The bounds of task-bounds.ts as applied to node records on every write (history, error texts).
import assert from 'node:assert/strict';
import { checkTaskBounds, clip, MAX_ATTEMPT_TEXT_BYTES, MAX_HISTORY, MAX_SPEC_BYTES, MAX_TEXT_BYTES, TaskTooLargeError } from '../../core/task/task-bounds.js';
import { boundNodeRecord } from '../../core/task/task-store.js';
import type { AttemptRecord, NodeRecord } from '../../core/task/task.js';
import { countedFailures } from '../../runner/runner.js';

const rec = (history: AttemptRecord[], extra: Partial<NodeRecord> = {}): NodeRecord => ({ node: 'a', state: 'FAILED', attempts: history.length, updatedAt: '', history, ...extra });

describe('task bounds', () => {
  it('leaves a record within bounds as it is (the same object)', () => {
    const r = rec([{ attempt: 1, startedAt: 't', error: 'boom' }]);
    assert.equal(boundNodeRecord(r), r);
  });

  it('keeps at most MAX_HISTORY attempts, dropping the oldest that are not counted failures first', () => {
    // 150 counted failures interleaved with 150 attempts that do not count (slot lost, runner died).
    const history: AttemptRecord[] = [];
    for (let i = 1; i <= 300; i++) history.push(i % 2 ? { attempt: i, startedAt: 't', error: 'failed', counted: true } : { attempt: i, startedAt: 't', error: 'slot lost', counted: false });
    const out = boundNodeRecord(rec(history));
    assert.equal(out.history.length, MAX_HISTORY);
    assert.equal(countedFailures(out.history), 150, 'no counted failure is dropped while others can go');
    assert.equal(out.history.at(-1)?.attempt, 300, 'the newest attempt is kept');
    assert.equal(out.attempts, 300);
    // Only counted failures: the oldest go, and the count stays above any retry budget (at most 100 retries).
    const failures = Array.from({ length: 250 }, (_, i): AttemptRecord => ({ attempt: i + 1, startedAt: 't', error: 'failed' }));
    const cut = boundNodeRecord(rec(failures));
    assert.equal(cut.history.length, MAX_HISTORY);
    assert.equal(cut.history[0]?.attempt, 51);
    assert.ok(countedFailures(cut.history) > 101);
  });

  it('cuts error and reason texts to their bound, on a character boundary', () => {
    const huge = 'é'.repeat(100_000);
    const out = boundNodeRecord(rec([{ attempt: 1, startedAt: 't', error: huge }], { error: huge, reason: huge }));
    assert.ok(Buffer.byteLength(out.error ?? '') <= MAX_TEXT_BYTES);
    assert.ok(Buffer.byteLength(out.reason ?? '') <= MAX_TEXT_BYTES);
    assert.ok(Buffer.byteLength(out.history[0]?.error ?? '') <= MAX_ATTEMPT_TEXT_BYTES);
    assert.match(out.error ?? '', /^é+\.\.\.$/);
    assert.equal(clip('short'), 'short');
  });

  it('refuses a spec over MAX_SPEC_BYTES and more than 10,000 targets, saying what to do', () => {
    assert.throws(() => checkTaskBounds('x'.repeat(MAX_SPEC_BYTES + 1), ['a']), (e: unknown) => e instanceof TaskTooLargeError && /spec is \d+ bytes/.test(e.message) && Boolean(e.hint));
    assert.throws(() => checkTaskBounds('{}', Array.from({ length: 10_001 }, (_, i) => `n${i}`)), /at most 10000 per task/);
    assert.doesNotThrow(() => checkTaskBounds('{}', Array.from({ length: 10_000 }, (_, i) => `n${i}`)));
  });
});
