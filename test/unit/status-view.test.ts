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

describe('status view: what an operator reads (items 10, 12 and big tasks)', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 10, 21, 2, 0, s)).toISOString();
  const done = (node: string, state: NodeRecord['state'], error?: string): NodeRecord => ({
    node,
    state,
    attempts: 1,
    updatedAt: '',
    startedAt: at(1),
    endedAt: at(4),
    history: [{ attempt: 1, startedAt: at(1), endedAt: at(4), ...(error ? { error } : {}) }],
    ...(error ? { error } : {}),
  });

  it('the progress bar fills with # for succeeded nodes only: a failed rollout never shows a full bar of #', () => {
    const t = task({ state: 'failed', targetCount: 2 });
    const line = progressLine(t, [done('a', 'SUCCEEDED'), done('b', 'DEAD', 'TIMEOUT: timed out')], 1000);
    assert.match(line, /\[#{12}x{12}\] 1\/2 succeeded/);
    assert.match(line, /dead: 1/);
    assert.doesNotMatch(line, /2\/2/);
  });

  it('shows the name, owner and description, and each node attempt duration', () => {
    const t = task({ spec: { name: 'restart', action: 'noop', cluster: 'kafka:events', owner: 'gsi', description: 'JVM update' } as TaskRecord['spec'], state: 'succeeded', endedAt: at(5) });
    const text = statusText(t, [done('n1', 'SUCCEEDED'), done('n2', 'SUCCEEDED')]);
    assert.match(text, /^ {2}name: restart, owner: gsi$/m);
    assert.match(text, /^ {2}description: JVM update$/m);
    assert.match(text, /^NODE\s+STATE\s+ATTEMPTS\s+STARTED\s+ENDED\s+DURATION\s+DETAIL$/m);
    assert.match(text, /^n1\s+SUCCEEDED\s+1\s+2026-11-21T02:00:01\.000Z\s+2026-11-21T02:00:04\.000Z\s+3\.0s$/m);
    const j = statusJson(t, [done('n1', 'SUCCEEDED')]);
    assert.equal(j.name, 'restart');
    assert.equal(j.owner, 'gsi');
    assert.equal(j.nodes[0]?.duration_ms, 3000);
    assert.equal(j.nodes[0]?.history[0]?.duration_ms, 3000);
    assert.equal(j.duration_ms, 5000);
  });

  it('colour only when asked (a TTY without NO_COLOR): none in piped output', () => {
    const t = task({ state: 'failed' });
    const n = [done('a', 'DEAD', 'boom')];
    const ESC = String.fromCharCode(27);
    assert.ok(!statusText(t, n).includes(ESC), 'no escape codes');
    assert.ok(statusText(t, n, { colour: true }).includes(`${ESC}[31m`), 'red for DEAD');
  });

  it('a task with thousands of nodes: a summary first (counts, running, waiting, failures grouped), the table on request', () => {
    const many: NodeRecord[] = [];
    for (let i = 0; i < 3000; i++) {
      const node = `n${i}`;
      if (i < 2900) many.push(done(node, 'SUCCEEDED'));
      else if (i < 2940) many.push(done(node, 'DEAD', 'TIMEOUT: timed out after 1800s'));
      else if (i < 2950) many.push(done(node, 'DEAD', 'CHECK_FAILED: post_check exited 1'));
      else if (i < 2952) many.push({ node, state: 'STARTED', attempts: 1, updatedAt: '', startedAt: at(1), history: [{ attempt: 1, startedAt: at(1) }] });
      else many.push({ node, state: 'QUEUED', attempts: 0, updatedAt: '', history: [] });
    }
    const t = task({ targetCount: many.length, limit: 2, maxFailures: 100 });
    const text = statusText(t, many);
    const lines = text.split('\n');
    assert.ok(lines.length < 15, `a summary, not 3000 rows:\n${text}`);
    assert.match(text, /nodes: 3000 \(48 QUEUED, 2 STARTED, 2900 SUCCEEDED, 50 DEAD\)/);
    assert.match(text, /running: n2950, n2951/);
    assert.match(text, /waiting: 48/);
    assert.match(text, /failed \(40\): TIMEOUT: timed out after 1800s: n2900, .* and 30 more/);
    assert.match(text, /failed \(10\): CHECK_FAILED: post_check exited 1: n2940/);
    assert.doesNotMatch(text, /^NODE/m);
    const dead = statusText(t, many, { states: ['DEAD'] }).split('\n').filter((l) => /^n\d+\s/.test(l));
    assert.equal(dead.length, 50);
    assert.equal(statusText(t, many, { showNodes: true }).split('\n').filter((l) => /^n\d+\s/.test(l)).length, 3000);
    // JSON stays complete.
    assert.equal(statusJson(t, many).nodes.length, 3000);
    assert.deepEqual(statusJson(t, many).failures.map((f) => f.nodes.length), [40, 10]);
  });
});
