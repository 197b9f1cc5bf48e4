// The short chaos run (the long one is `npm run chaos -- --rounds 50`, by hand): three rounds with runners
// and routers as separate processes, against a ZooKeeper server and an SQS server that the chaos driver
// starts itself (it restarts ZooKeeper as a fault, so it cannot use the shared one). The fault kinds are
// forced so that kill -9 of a runner mid-execute, a ZooKeeper restart mid-rollout and a duplicated global
// message each happen at least once. Then the checker on its own, on hand-made evidence: it must catch
// what it claims to catch, or a green chaos run would mean nothing.
import assert from 'node:assert/strict';
import type { DeadLetter } from '../../core/queue/dead-letters.js';
import type { NodeRecord, TaskRecord } from '../../core/task/task.js';
import { runChaos } from '../chaos/chaos.js';
import { checkRound, type RoundEvidence } from '../chaos/check.js';
import type { ProbeLine } from '../chaos/probe-file.js';
import { requireZk } from '../support/env.js';

describe('chaos: runner and router processes under faults (short run)', function () {
  // Three rounds of about 20-40 s each, bounded by maxSeconds and each round's own timeout.
  this.timeout(420_000);

  before(function () {
    requireZk(this);
  });

  it('kill -9 runner, ZooKeeper restart, duplicate message, kill -9 router: limit held, nothing lost', async () => {
    const lines: string[] = [];
    const s = await runChaos({
      rounds: 3,
      seed: 1,
      nodes: 10,
      limit: 2,
      maxSeconds: 240,
      roundTimeoutMs: 60_000,
      faults: [['kill-runner', 'dup-message'], ['zk-restart'], ['dup-message', 'kill-router', 'fail-nodes']],
      out: (l) => lines.push(l),
    });
    const report = `\n${lines.join('\n')}`;
    assert.equal(s.rounds, 3, `every round ran${report}`);
    for (const k of ['kill-runner', 'zk-restart', 'dup-message'] as const) assert.ok(s.faults[k] >= 1, `${k} was injected${report}`);
    assert.equal(s.limitViolations, 0, `limit violations${report}`);
    assert.equal(s.lost, 0, `lost items${report}`);
    assert.equal(s.otherViolations, 0, `other violations${report}`);
    assert.equal(s.timeouts + s.stalls, 0, `timeouts and stalls${report}`);
    assert.ok(s.ok, report);
  });
});

describe('chaos: the round checker', () => {
  const T = 'task-1';
  let t = 1_000;
  const at = () => (t += 10);
  const start = (node: string, pid: number, attempt = 1): ProbeLine => ({ kind: 'start', task: T, node, pid, attempt, t: at() });
  const end = (node: string, pid: number, ok = true, aborted = false): ProbeLine => ({ kind: 'end', task: T, node, pid, attempt: 1, ok, aborted, t: at() });
  const sent = (node: string, pid = 900): ProbeLine => ({ kind: 'sent', task: T, node, pid, t: at() });
  const rec = (node: string, state: NodeRecord['state'], reason?: string): NodeRecord => ({ node, state, attempts: 1, updatedAt: '', history: [], ...(reason ? { reason } : {}) });
  const task = (state: TaskRecord['state'], endedAt?: number): TaskRecord =>
    ({ taskId: T, state, targets: ['a', 'b', 'c'], limit: 2, maxFailures: 1, updatedAt: '', emittedAt: '', emittedBy: { kind: 'cli', user: 't' }, spec: {}, ...(endedAt ? { endedAt: new Date(endedAt).toISOString() } : {}) }) as unknown as TaskRecord;
  const letter = (node: string, reason: string) => ({ node, reason, taskId: T }) as DeadLetter;
  const evidence = (over: Partial<RoundEvidence>): RoundEvidence => ({
    taskId: T,
    targets: ['a', 'b', 'c'],
    limit: 2,
    task: task('succeeded'),
    nodes: [rec('a', 'SUCCEEDED'), rec('b', 'SUCCEEDED'), rec('c', 'SUCCEEDED')],
    progress: { terminal: 3, SUCCEEDED: 3, DEAD: 0, SKIPPED: 0 },
    letters: [],
    lines: [sent('a'), sent('b'), sent('c'), start('a', 1), start('b', 2), end('a', 1), start('c', 3), end('b', 2), end('c', 3)],
    routerKilled: false,
    graceMs: 500,
    ...over,
  });

  it('passes a clean rollout and measures its concurrency', () => {
    const c = checkRound(evidence({}));
    assert.deepEqual(c.violations, []);
    assert.equal(c.maxConcurrency, 2);
    assert.equal(c.duplicateExecutions, 0);
  });

  it('catches a third node disrupted with limit 2; a killed attempt (a reboot) keeps its node disrupted until it passes', () => {
    const over = checkRound(evidence({ lines: [start('a', 1), start('b', 2), start('c', 3), end('a', 1), end('b', 2), end('c', 3)] }));
    assert.equal(over.limitViolations, 1);
    assert.equal(over.maxConcurrency, 3);
    const kill = (node: string, pid: number) => ({ kind: 'kill', role: 'runner', node, pid, t: at() }) as ProbeLine;
    const rebootThenOthers = [start('a', 1), start('b', 2), kill('a', 1), end('b', 2), start('a', 4), end('a', 4), start('c', 3), end('c', 3)];
    const c = checkRound(evidence({ lines: rebootThenOthers }));
    assert.deepEqual(c.violations, []);
    assert.equal(c.duplicateExecutions, 1, 'the attempt after the kill is a re-execution');
    const c2 = checkRound(evidence({ lines: [start('a', 1), start('b', 2), kill('a', 1), end('b', 2), start('c', 3), start('b', 5), end('c', 3), start('a', 4), end('a', 4), end('b', 5)] }));
    assert.equal(c2.limitViolations, 1, 'a node started while the rebooting one was still down (slot freed with its runner) is caught');
    const failedStays = checkRound(evidence({ lines: [start('a', 1), end('a', 1, false), start('b', 2), start('c', 3), end('b', 2), end('c', 3), start('a', 1), end('a', 1)] }));
    assert.equal(failedStays.limitViolations, 1, 'a failed attempt keeps its node disrupted until a later attempt passes');
  });

  it('counts every task of the cluster together, and catches a start while the health gate was closed', () => {
    const T2 = 'task-2';
    const other = (kind: 'start' | 'end', node: string, pid: number): ProbeLine => ({ kind, task: T2, node, pid, attempt: 1, ok: true, aborted: false, t: at() });
    const both = checkRound(
      evidence({
        lines: [start('a', 1), other('start', 'b', 2), start('c', 3), end('a', 1), other('end', 'b', 2), end('c', 3), start('b', 4), end('b', 4)],
        nodes: [rec('a', 'SUCCEEDED'), rec('b', 'SUCCEEDED'), rec('c', 'SUCCEEDED')],
        others: [{ taskId: T2, targets: ['b'], task: { ...task('succeeded'), taskId: T2 } as TaskRecord, nodes: [rec('b', 'SUCCEEDED')], letters: [] }],
      }),
    );
    assert.equal(both.limitViolations, 1, 'three nodes of the cluster disrupted by two tasks, limit 2');
    const gate = (fault: string) => ({ kind: 'fault', fault, pid: 9, t: at() }) as ProbeLine;
    const closed = checkRound(evidence({ lines: [gate('health-closed'), ...Array.from({ length: 60 }, () => gate('tick')), start('a', 1), end('a', 1), gate('health-open'), start('b', 2), end('b', 2), start('c', 3), end('c', 3)] }));
    assert.ok(closed.violations.some((v) => /health: a \(task task-1\) started \d+ ms after the health gate closed/.test(v)), closed.violations.join('; '));
  });

  it('catches lost nodes, a DEAD node without a dead letter, a SKIPPED node without a reason, a success that never ran', () => {
    const c = checkRound(
      evidence({
        task: task('halted', 1e12),
        nodes: [rec('a', 'DEAD'), rec('b', 'SKIPPED'), rec('c', 'WAITING')],
        progress: undefined,
        lines: [start('a', 1), end('a', 1, false)],
      }),
    );
    assert.deepEqual(c.lost, ['c=WAITING']);
    assert.ok(c.violations.some((v) => /a is DEAD but has no dead letter/.test(v)));
    assert.ok(c.violations.some((v) => /b is SKIPPED without a reason/.test(v)));
    const ok = checkRound(evidence({ task: task('halted', 1e12), nodes: [rec('a', 'DEAD'), rec('b', 'SKIPPED', 'task halted'), rec('c', 'SKIPPED', 'task halted')], progress: undefined, letters: [letter('a', 'ACTION_FAILED: x')], lines: [start('a', 1), end('a', 1, false)] }));
    assert.deepEqual(ok.violations, []);
    const ghost = checkRound(evidence({ lines: [start('a', 1), end('a', 1)] }));
    assert.ok(ghost.violations.some((v) => /b is SUCCEEDED but its post_check never completed/.test(v)));
  });

  it('catches a second fan-out unless a router died, and starts after a cancel past the grace period', () => {
    const twice = evidence({ lines: [...evidence({}).lines, sent('b', 901)] });
    assert.ok(checkRound(twice).violations.some((v) => /fanned out twice: b/.test(v)));
    assert.deepEqual(checkRound({ ...twice, routerKilled: true }).violations, []);
    const cancelledAt = 5_000;
    t = cancelledAt + 1000;
    const late = checkRound(
      evidence({
        task: task('cancelled', cancelledAt),
        nodes: [rec('a', 'SKIPPED', 'cancelled'), rec('b', 'SKIPPED', 'cancelled'), rec('c', 'SKIPPED', 'cancelled')],
        progress: { terminal: 3, SUCCEEDED: 0, DEAD: 0, SKIPPED: 3 },
        lines: [start('a', 1), end('a', 1, false, true)],
      }),
    );
    assert.ok(late.violations.some((v) => /a \(pid 1\) started an attempt \d+ ms after the task was cancelled/.test(v)));
  });
});
