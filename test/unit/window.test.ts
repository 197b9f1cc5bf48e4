import assert from 'node:assert/strict';
import { SpecError } from '../../core/errors.js';
import { parseTaskSpec } from '../../core/task/task-spec.js';
import { isInWindow, windowSchema } from '../../core/task/window.js';

const at = (iso: string) => Date.parse(iso);

describe('maintenance windows', () => {
  it('is open on the listed days between start and end, in its time zone', () => {
    const w = windowSchema.parse({ days: ['tue', 'wed'], start: '02:00', end: '05:00', timezone: 'UTC' });
    assert.equal(isInWindow(w, at('2026-11-24T02:00:00Z')), true); // a Tuesday
    assert.equal(isInWindow(w, at('2026-11-24T04:59:00Z')), true);
    assert.equal(isInWindow(w, at('2026-11-24T05:00:00Z')), false);
    assert.equal(isInWindow(w, at('2026-11-24T01:59:00Z')), false);
    assert.equal(isInWindow(w, at('2026-11-23T03:00:00Z')), false); // Monday
    const paris = windowSchema.parse({ days: ['tue'], start: '02:00', end: '05:00', timezone: 'Europe/Paris' });
    assert.equal(isInWindow(paris, at('2026-11-24T01:30:00Z')), true); // 02:30 in Paris
    assert.equal(isInWindow(paris, at('2026-11-24T04:30:00Z')), false); // 05:30 in Paris
  });

  it('runs past midnight when the end is before the start; days name the opening day', () => {
    const w = windowSchema.parse({ days: ['fri'], start: '22:00', end: '04:00' });
    assert.equal(isInWindow(w, at('2026-11-27T23:00:00Z')), true); // Friday night
    assert.equal(isInWindow(w, at('2026-11-28T03:00:00Z')), true); // early Saturday
    assert.equal(isInWindow(w, at('2026-11-28T23:00:00Z')), false); // Saturday night
    assert.equal(isInWindow(w, at('2026-11-27T03:00:00Z')), false); // early Friday
  });

  it('refuses bad windows in a spec, naming the field', () => {
    const base = { name: 'x', action: 'sleep', cluster: 'c', nodes: ['a'] };
    const fields = (window: unknown) => {
      try {
        parseTaskSpec({ ...base, window });
      } catch (err) {
        return (err as SpecError).issues.map((i) => `${i.field}: ${i.message}`);
      }
      return [];
    };
    assert.match(fields({ days: ['tuesday'], start: '02:00', end: '05:00' })[0] ?? '', /^window\.days\[0\]: must be days like/);
    assert.match(fields({ start: '2am', end: '05:00' })[0] ?? '', /^window\.start: must be a time like "02:00"/);
    assert.match(fields({ start: '02:00', end: '05:00', timezone: 'Mars/Olympus' })[0] ?? '', /^window\.timezone: "Mars\/Olympus" is not an IANA time zone/);
    assert.deepEqual(fields({ start: '02:00', end: '05:00' }), []);
  });
});
