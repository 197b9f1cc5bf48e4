import assert from 'node:assert/strict';
import { backoffDelay } from '../../core/backoff.js';
import { parseDuration } from '../../core/duration.js';

describe('durations and backoff', () => {
  it('parses the units operators write', () => {
    assert.equal(parseDuration('60s'), 60_000);
    assert.equal(parseDuration('30m'), 1_800_000);
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('5'), 5000);
    assert.equal(parseDuration(2), 2000);
  });

  it('refuses what is not a duration', () => {
    for (const d of ['', 'soon', '5 minutes', '1h30', '-1s', 'ms']) assert.equal(parseDuration(d), undefined, d);
    assert.equal(parseDuration(-1), undefined);
  });

  it('backs off exponentially with bounded jitter, capped', () => {
    const mid = () => 0.5;
    assert.equal(backoffDelay(1, { baseMs: 1000, random: mid }), 1000);
    assert.equal(backoffDelay(2, { baseMs: 1000, random: mid }), 2000);
    assert.equal(backoffDelay(4, { baseMs: 1000, random: mid }), 8000);
    assert.equal(backoffDelay(3, { baseMs: 1000, random: () => 0 }), 2000);
    assert.equal(backoffDelay(3, { baseMs: 1000, random: () => 0.999999 }), 6000);
    assert.equal(backoffDelay(30, { baseMs: 1000, maxMs: 60_000, random: mid }), 60_000);
  });
});
