// What `taskerman status` and the progress line show: a paused or half-resumed task must say so, since
// its state alone (RUNNING) would hide why nothing moves.
import assert from 'node:assert/strict';
import { progressLine, statusJson, statusText } from '../../cli/status-view.js';
import type { NodeRecord, TaskRecord } from '../../core/task/task.js';

const task = (over: Partial<TaskRecord> = {}): TaskRecord => ({
  taskId: 't-1',
  spec: { name: 'restart', action: 'noop', cluster: 'kafka:events' } as TaskRecord['spec'],
  emittedBy: { kind: 'cli', user: 'ana' },
  emittedAt: '2026-11-21T02:00:00.000Z',
  state: 'running',
  targetCount: 2,
  limit: 1,
  maxFailures: 1,
  updatedAt: '2026-11-21T02:00:01.000Z',
  ...over,
});
const nodes: NodeRecord[] = [
  { node: 'n1', state: 'SUCCEEDED', attempts: 1, updatedAt: '', startedAt: '2026-11-21T02:00:00.100Z', endedAt: '2026-11-21T02:00:00.900Z', history: [] },
  { node: 'n2', state: 'WAITING', attempts: 0, updatedAt: '', reason: 'task paused by bob', history: [] },
];

describe('status view', () => {
  it('says when a task is paused, by whom, and how to go on (text, JSON and progress line)', () => {
    const t = task({ paused: { by: 'bob', at: '2026-11-21T02:00:02.000Z' } });
    const text = statusText(t, nodes);
    assert.match(text, /^task t-1: RUNNING\n {2}PAUSED by bob at 2026-11-21T02:00:02.000Z; `taskerman resume t-1` goes on$/m);
    assert.deepEqual(statusJson(t, nodes).paused, { by: 'bob', at: '2026-11-21T02:00:02.000Z' });
    assert.match(progressLine(t, nodes, 1500), /\| PAUSED by bob$/);
    assert.doesNotMatch(statusText(task(), nodes), /PAUSED/);
    assert.equal(statusJson(task(), nodes).paused, null);
  });

  it('says when a resume is under way or died half-way', () => {
    const t = task({ resuming: { by: 'ana', at: '2026-11-21T02:00:03.000Z' }, resumedAt: '2026-11-21T02:00:03.000Z', breakerBase: 1 });
    assert.match(statusText(t, nodes), /being resumed by ana since 2026-11-21T02:00:03.000Z; if that resume died, run `taskerman resume t-1` again/);
    const j = statusJson(t, nodes);
    assert.deepEqual(j.resuming, { by: 'ana', at: '2026-11-21T02:00:03.000Z' });
    assert.equal(j.resumed_at, '2026-11-21T02:00:03.000Z');
  });

  it('keeps the cancel tombstone in the JSON', () => {
    const t = task({ state: 'cancelled', reason: 'cancelled by ana', cancelled: { by: 'ana', at: '2026-11-21T02:00:04.000Z' }, endedAt: '2026-11-21T02:00:04.000Z' });
    assert.deepEqual(statusJson(t, nodes).cancelled, { by: 'ana', at: '2026-11-21T02:00:04.000Z' });
    assert.match(statusText(t, nodes), /^task t-1: CANCELLED \(cancelled by ana\)$/m);
  });
});
