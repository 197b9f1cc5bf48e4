// The scheduler on the in-memory backends: cron fire times (against node-cron's own walk), markers, the
// leader election, validation before anything is scheduled, exactly one task per fire time across three
// replicas, leader loss and handover, tasks claimed but never sent, catch-up, reload, marker retention, and
// the `scheduler` / `schema` CLI helpers. Real 1-second cron fires are used where the point is node-cron
// itself; every wait is bounded and nothing asserts on elapsed time. Catch-up and retention run on a fixed
// injected clock.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTask } from 'node-cron';
import { systemClock, type Clock } from '../../core/clock.js';
import { SpecError, type Issue } from '../../core/errors.js';
import { silentLogger } from '../../core/logger.js';
import { MemoryCoordinatorStore, type MemoryCoordinator } from '../../core/coordination/memory-coordinator.js';
import { MemoryQueueStore, MemoryWorkQueue } from '../../core/queue/memory-work-queue.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { isValidTaskId, parseTaskMessage, type Task } from '../../core/task/task.js';
import { parseTaskSpec, type TaskSpec, type TaskSpecInput } from '../../core/task/task-spec.js';
import type { OutgoingMessage } from '../../core/queue/work-queue.js';
import { schemaCommand, taskSpecJsonSchema } from '../../cli/commands/schema.js';
import { directorySpecSource, watchSpecs } from '../../cli/commands/scheduler.js';
import { compactFireTime, FireMarkers, fireTaskId, parseCompactFireTime } from '../../scheduler/fire-marker.js';
import { LeaderElection } from '../../scheduler/leader.js';
import { CronSchedule, Scheduler, type FireEvent, type LoadedSpec, type SpecSource } from '../../scheduler/scheduler.js';
import type { SchedulerOptions } from '../../scheduler/scheduler-options.js';

const ROOT = '/taskerman';
const DAY = 86_400_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function makeSpec(overrides: Partial<TaskSpecInput> = {}): TaskSpec {
  return parseTaskSpec({ name: 'every-second', action: 'noop', cluster: 'c1', nodes: ['n1'], schedule: '* * * * * *', timezone: 'UTC', ...overrides });
}

class ManualSource {
  specs: LoadedSpec[] = [];
  issues: Issue[] = [];
  constructor(...specs: TaskSpec[]) {
    this.set(...specs);
  }
  set(...specs: TaskSpec[]): void {
    this.specs = specs.map((spec) => ({ file: `${spec.name}.yaml`, spec }));
  }
  readonly fn: SpecSource = async () => ({ specs: [...this.specs], issues: [...this.issues] });
}

const fixedClock = (t: number): Clock => ({ now: () => t, sleep: systemClock.sleep });

class FailingQueue extends MemoryWorkQueue {
  override async send(_queue: string, _msg: OutgoingMessage): Promise<void> {
    throw new Error('SQS is down');
  }
}

/** Waits until just after a second boundary, so that no cron fire falls inside the few ms of a setup. */
async function justAfterASecond(): Promise<void> {
  await sleep(1000 - (Date.now() % 1000) + 30);
}

// ---- cron fire times -------------------------------------------------------------------------------------

describe('CronSchedule: fire times', function () {
  const made: CronSchedule[] = [];
  const cron = (expr: string, tz = 'UTC') => {
    const c = new CronSchedule(expr, tz);
    made.push(c);
    return c;
  };
  afterEach(() => {
    for (const c of made.splice(0)) c.destroy();
  });

  it('node-cron reports the scheduled slot (whole seconds, matching the expression) as the fire time', async function () {
    const c = cron('* * * * * *');
    const seen: { t: number; at: number }[] = [];
    c.start(
      (t) => seen.push({ t, at: Date.now() }),
      () => undefined,
    );
    await waitFor('two fires', () => seen.length >= 2, 5000);
    for (const { t, at } of seen) {
      assert.equal(t % 1000, 0);
      assert.ok(c.matches(t));
      assert.ok(t <= at, 'a fire time is never in the future');
    }
  });

  it('agrees with node-cron: previous(next run) is that run, previous(just before) is the run before', function () {
    const cases: [string, string][] = [
      ['*/7 * * * *', 'Asia/Kolkata'],
      ['0 3 * * 2', 'UTC'],
      ['30 2 * * *', 'Europe/Paris'],
      ['0 0 L * *', 'UTC'],
      ['15 10 * * 1#2', 'America/New_York'],
      ['*/20 * * * * *', 'UTC'],
      ['0 9-17/2 * * mon-fri', 'Australia/Adelaide'],
    ];
    for (const [expr, tz] of cases) {
      const task = createTask(expr, () => undefined, { timezone: tz });
      const runs = task.getNextRuns(4).map((d) => d.getTime());
      void task.destroy();
      const c = cron(expr, tz);
      for (let i = 1; i < runs.length; i++) {
        const run = runs[i] as number;
        const before = runs[i - 1] as number;
        assert.equal(c.previous(run), run, `${expr} ${tz}: previous(${new Date(run).toISOString()})`);
        assert.equal(c.previous(run + 999), run, `${expr} ${tz}: within the second`);
        assert.equal(c.previous(run - 1), before, `${expr} ${tz}: just before ${new Date(run).toISOString()}`);
      }
      const last = runs[3] as number;
      const first = runs[0] as number;
      assert.deepEqual(c.between(first - 1, last, 10), [...runs].reverse(), `${expr} ${tz}: between`);
      assert.deepEqual(c.between(first, last, 10), runs.slice(1).reverse(), `${expr} ${tz}: "after" is exclusive`);
      assert.deepEqual(c.between(first - 1, last, 2), [runs[3], runs[2]], `${expr} ${tz}: limit keeps the latest`);
    }
  });

  it('handles DST: a local time that does not exist is skipped, one that happens twice fires once', function () {
    const c = cron('30 2 * * *', 'Europe/Paris');
    // 2026-03-29: 02:00 CET → 03:00 CEST, there is no 02:30; the day before, 02:30 CET = 01:30Z.
    assert.equal(c.previous(Date.parse('2026-03-29T12:00:00Z')), Date.parse('2026-03-28T01:30:00Z'));
    assert.equal(c.previous(Date.parse('2026-03-30T12:00:00Z')), Date.parse('2026-03-30T00:30:00Z'));
    // 2026-10-25: 03:00 CEST → 02:00 CET, 02:30 happens twice; node-cron fires it once, at 01:30Z.
    assert.deepEqual(c.between(Date.parse('2026-10-24T12:00:00Z'), Date.parse('2026-10-25T12:00:00Z'), 10), [Date.parse('2026-10-25T01:30:00Z')]);
  });

  it('respects the floor and looks back across months and years', function () {
    const c = cron('0 0 29 2 *');
    assert.equal(c.previous(Date.parse('2027-06-01T00:00:00Z')), Date.parse('2024-02-29T00:00:00Z'));
    assert.equal(c.previous(Date.parse('2027-06-01T00:00:00Z'), Date.parse('2024-02-29T00:00:00Z')), undefined);
    const weekly = cron('0 3 * * 2');
    assert.equal(weekly.previous(Date.parse('2026-03-10T03:00:00Z')), Date.parse('2026-03-10T03:00:00Z'));
    assert.equal(weekly.previous(Date.parse('2026-03-10T02:59:59Z')), Date.parse('2026-03-03T03:00:00Z'));
  });
});

describe('fire markers', function () {
  let zk: MemoryCoordinatorStore;
  beforeEach(() => {
    zk = new MemoryCoordinatorStore();
  });
  afterEach(() => zk.stop());

  it('derives a valid, deterministic task id from the spec name and the fire time', function () {
    const t = Date.parse('2026-11-24T03:00:00.000Z');
    assert.equal(compactFireTime(t), '20261124T030000Z');
    assert.equal(compactFireTime(t + 999), '20261124T030000Z');
    assert.equal(parseCompactFireTime('20261124T030000Z'), t);
    assert.equal(parseCompactFireTime('20261324T030000Z'), undefined);
    assert.equal(fireTaskId('geo-counter-weekly-restart', t), 'geo-counter-weekly-restart-20261124T030000Z');
    const longest = `a${'b.c_d-'.repeat(20)}`.slice(0, 100);
    assert.equal(longest.length, 100);
    assert.ok(isValidTaskId(fireTaskId(longest, t)));
  });

  it('a fire time is claimed once across sessions; sent, released and adopted as recorded', async function () {
    const sa = zk.session();
    const a = new FireMarkers(sa);
    const b = new FireMarkers(zk.session());
    await a.init();
    const t = Date.parse('2026-11-24T03:00:00Z');
    const claim = { spec: 'x.y', fireTime: t, schedule: '0 3 * * 2', timezone: 'UTC', reason: 'schedule' as const, claimedBy: 'h', claimedAt: t };
    const results = await Promise.all([a.claim(claim), b.claim(claim), a.claim(claim)]);
    assert.deepEqual(results.sort(), ['claimed', 'exists', 'exists']);
    const st = await b.read('x.y', t);
    assert.equal(st?.marker.state, 'claimed');
    assert.ok(st?.sendingOwner, 'the claimer is sending it');
    assert.equal(await b.adopt('x.y', t), false, 'a live sender keeps it');
    const winner = st?.sendingOwner === sa.sessionId ? a : b;
    await winner.release('x.y', t);
    assert.equal((await b.read('x.y', t))?.sendingOwner, undefined);
    assert.equal(await b.adopt('x.y', t), true);
    await b.markSent('x.y', t, t + 5);
    const sent = await a.read('x.y', t);
    assert.equal(sent?.marker.state, 'sent');
    assert.equal(sent?.sendingOwner, undefined);
    assert.deepEqual(await a.list('x.y'), [t]);
    assert.deepEqual(await a.specs(), ['x.y']);
  });
});

describe('LeaderElection', function () {
  let zk: MemoryCoordinatorStore;
  beforeEach(() => {
    zk = new MemoryCoordinatorStore();
  });
  afterEach(() => zk.stop());

  it('one leader at a time; suspended → steps down at once (TN14), nobody else leads; expired → the next leads; stop → the next leads', async function () {
    const sessions = [zk.session(), zk.session(), zk.session()];
    const els = sessions.map((coordinator) => new LeaderElection({ coordinator, dir: '/e/scheduler/leader', logger: silentLogger }));
    const history: string[] = [];
    let mostLeaders = 0;
    els.forEach((e, i) =>
      e.on('change', (leader) => {
        history.push(`${i}:${leader}`);
        mostLeaders = Math.max(mostLeaders, els.filter((x) => x.isLeader()).length);
      }),
    );
    for (const e of els) await e.start();
    assert.deepEqual(els.map((e) => e.isLeader()), [true, false, false]);

    zk.suspend(sessions[0] as MemoryCoordinator);
    await waitFor('the suspended leader to step down', () => !els[0]?.isLeader());
    await sleep(50);
    assert.deepEqual(els.map((e) => e.isLeader()), [false, false, false], "nobody leads while the leader's session may be alive");
    zk.resume(sessions[0] as MemoryCoordinator);
    await waitFor('the same session to lead again', () => els[0]?.isLeader() === true);

    await zk.expire(sessions[0] as MemoryCoordinator);
    await waitFor('the next candidate to lead', () => els[1]?.isLeader() === true);
    await waitFor('the expired candidate to stand again', async () => (await sessions[2]?.children('/e/scheduler/leader'))?.length === 3);
    assert.deepEqual(els.map((e) => e.isLeader()), [false, true, false]);

    await els[1]?.stop();
    await waitFor('the next in line to lead', () => els[2]?.isLeader() === true);
    await els[2]?.stop();
    await waitFor('the re-joined candidate to lead', () => els[0]?.isLeader() === true);
    await els[0]?.stop();
    assert.deepEqual(history, ['0:true', '0:false', '0:true', '0:false', '1:true', '1:false', '2:true', '2:false', '0:true', '0:false']);
    assert.equal(mostLeaders, 1, 'never two leaders');
  });
});

// ---- the scheduler ---------------------------------------------------------------------------------------

describe('Scheduler', function () {
  this.timeout(30_000);
  let zk: MemoryCoordinatorStore;
  let qs: MemoryQueueStore;
  let admin: MemoryCoordinator;
  let markers: FireMarkers;
  const names = queueNames('t');
  let running: { s: Scheduler; session: MemoryCoordinator; fired: FireEvent[] }[];

  beforeEach(async () => {
    zk = new MemoryCoordinatorStore();
    qs = new MemoryQueueStore();
    admin = zk.session();
    markers = new FireMarkers(admin, ROOT);
    running = [];
    await new MemoryWorkQueue({ store: qs }).ensureQueue({ name: names.global, deadLetter: names.globalDlq, maxReceiveCount: 10, visibilityTimeoutSec: 30 });
  });

  afterEach(async () => {
    await Promise.allSettled(running.map((r) => r.s.stop()));
    await zk.stop();
  });

  function newScheduler(source: ManualSource | SpecSource, opts: Partial<SchedulerOptions> = {}) {
    const session = zk.session();
    const s = new Scheduler({
      queue: new MemoryWorkQueue({ store: qs }),
      names,
      coordinator: session,
      root: ROOT,
      source: typeof source === 'function' ? source : source.fn,
      logger: silentLogger,
      host: `host-${running.length}`,
      ...opts,
    });
    const r = { s, session, fired: [] as FireEvent[] };
    s.on('fired', (e) => r.fired.push(e));
    running.push(r);
    return r;
  }

  const leaders = () => running.filter((r) => r.s.isLeader());

  async function drain(): Promise<Task[]> {
    const q = new MemoryWorkQueue({ store: qs });
    const out: Task[] = [];
    for (;;) {
      const msgs = await q.receive(names.global, { max: 10, waitSec: 0, visibilitySec: 600 });
      if (msgs.length === 0) return out;
      out.push(...msgs.map((m) => parseTaskMessage(m.body)));
    }
  }

  async function sentTimes(spec: string): Promise<number[]> {
    const out: number[] = [];
    for (const t of await markers.list(spec)) if ((await markers.read(spec, t))?.marker.state === 'sent') out.push(t);
    return out;
  }

  /**
   * Every marker sent, one task message per marker and none without, fire times back to back. With `handover`
   * (the new leader's fire events), one fire time may have a second message: the one the old leader was sending
   * when its session expired, which the new leader found claimed with no sender and sent again ('resend'); the
   * copy has the same task id, which the router records once. A second one, or any other, is a doubled fire time
   * (two schedulers firing).
   */
  async function assertExactlyOncePerFireTime(spec: string, handover?: FireEvent[]): Promise<{ times: number[]; tasks: Task[] }> {
    const times = await markers.list(spec);
    for (const t of times) assert.equal((await markers.read(spec, t))?.marker.state, 'sent', `${compactFireTime(t)} was sent`);
    const all = (await drain()).filter((t) => t.spec.name === spec);
    const resent = new Set((handover ?? []).filter((e) => e.reason === 'resend').map((e) => fireTaskId(spec, e.fireTime)));
    const seen = new Set<string>();
    const tasks: Task[] = [];
    for (const t of all) {
      if (!seen.has(t.taskId)) {
        seen.add(t.taskId);
        tasks.push(t);
      } else assert.ok(resent.has(t.taskId), `a second message for ${t.taskId}, which no new leader resent`);
    }
    assert.ok(all.length - tasks.length <= 1, `${all.length - tasks.length} fire times sent twice: only the one in flight at the handover may be`);
    assert.deepEqual(
      tasks.map((t) => t.taskId).sort(),
      times.map((t) => fireTaskId(spec, t)),
      'exactly one task per fire time',
    );
    for (let i = 1; i < times.length; i++) {
      assert.equal((times[i] as number) - (times[i - 1] as number), 1000, `no fire time lost after ${compactFireTime(times[i - 1] as number)}`);
    }
    for (const t of tasks) assert.equal(t.emittedBy.kind, 'scheduler');
    return { times, tasks };
  }

  describe('validation', function () {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'taskerman-specs-'));
      const base = 'action: noop\ncluster: c1\nnodes: [n1]\n';
      await writeFile(join(dir, 'good.yaml'), `name: good\n${base}schedule: "0 3 * * 2"\n`);
      await writeFile(join(dir, 'bad-limit.yaml'), `name: bad-limit\n${base}schedule: "0 3 * * 2"\nlimit: 0\n`);
      await writeFile(join(dir, 'bad-cron.yaml'), `name: bad-cron\n${base}schedule: "61 * * * *"\n`);
      await writeFile(join(dir, 'on-demand.yaml'), `name: on-demand\n${base}`);
      await writeFile(join(dir, 'README.md'), 'not a spec');
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('refuses to start on an invalid spec, naming every file and field, and schedules nothing', async function () {
      const { s } = newScheduler(directorySpecSource(dir));
      await assert.rejects(s.start(), (err: unknown) => {
        assert.ok(err instanceof SpecError);
        const found = err.issues.map((i) => `${i.file?.slice(dir.length + 1)}: ${i.field}`).sort();
        assert.deepEqual(found, ['bad-cron.yaml: schedule', 'bad-limit.yaml: limit']);
        assert.match(err.message, /bad-cron\.yaml: schedule: "61 \* \* \* \*" is not a cron expression: 61 is an invalid expression for minute; .* e\.g\. "0 3 \* \* 2"/);
        return true;
      });
      assert.deepEqual(s.specNames(), []);
      assert.equal(s.isLeader(), false);
      assert.equal(await admin.children(`${ROOT}/scheduler/leader`), undefined, 'did not even join the election');
      await s.stop();
    });

    it('--skip-invalid: starts without the invalid specs; specs without a schedule are loaded but never fired; a fixed file comes in on reload', async function () {
      const { s } = newScheduler(directorySpecSource(dir), { skipInvalid: true });
      await s.start();
      assert.deepEqual(s.specNames(), ['good']);
      await writeFile(join(dir, 'bad-limit.yaml'), 'name: bad-limit\naction: noop\ncluster: c1\nnodes: [n1]\nschedule: "0 3 * * 2"\nlimit: 2\n');
      const r = await s.reload();
      assert.deepEqual({ applied: r.applied, added: r.added, issues: r.issues.map((i) => i.field) }, { applied: true, added: ['bad-limit'], issues: ['schedule'] });
      assert.deepEqual(s.specNames(), ['bad-limit', 'good']);
    });

    it('refuses duplicate names across files', async function () {
      await writeFile(join(dir, 'good-copy.yml'), 'name: good\naction: noop\ncluster: c1\nnodes: [n1]\nschedule: "0 4 * * 2"\n');
      const { s } = newScheduler(directorySpecSource(dir), { skipInvalid: true });
      await s.start();
      assert.deepEqual(s.specNames(), ['good']);
    });
  });

  it('three schedulers on one spec firing every second: every fire time produced exactly one task and one marker', async function () {
    const source = new ManualSource(makeSpec());
    const rs = [newScheduler(source), newScheduler(source), newScheduler(source)];
    await Promise.all(rs.map((r) => r.s.start()));
    await waitFor('one leader', () => leaders().length === 1);
    await waitFor('4 fire times sent', async () => (await sentTimes('every-second')).length >= 4, 15_000);
    assert.equal(leaders().length, 1);
    await Promise.all(rs.map((r) => r.s.stop()));
    const { times } = await assertExactlyOncePerFireTime('every-second');
    assert.ok(times.length >= 4);
    assert.equal(rs.filter((r) => r.fired.length > 0).length, 1, 'only the leader fired');
    for (const r of rs) assert.deepEqual(r.s.specNames(), [], 'stopped');
  });

  it("the leader's session expires: another replica takes over; no fire time lost or doubled across the handover", async function () {
    const source = new ManualSource(makeSpec());
    const rs = [newScheduler(source), newScheduler(source), newScheduler(source)];
    for (const r of rs) await r.s.start();
    await waitFor('2 fire times sent', async () => (await sentTimes('every-second')).length >= 2, 15_000);
    const old = leaders()[0];
    assert.ok(old);
    await once(old.s, 'fired');
    await zk.expire(old.session);
    await waitFor('a new leader', () => leaders().length === 1 && leaders()[0] !== old);
    const newLeader = leaders()[0];
    await waitFor('2 fire times sent by the new leader', () => (newLeader?.fired.length ?? 0) >= 2, 15_000);
    await Promise.all(rs.map((r) => r.s.stop()));
    await assertExactlyOncePerFireTime('every-second', newLeader?.fired);
  });

  it('a fire time that falls while nobody can lead (leader suspended) is fired late by the next leader: none lost, none doubled', async function () {
    const source = new ManualSource(makeSpec());
    const rs = [newScheduler(source), newScheduler(source), newScheduler(source)];
    for (const r of rs) await r.s.start();
    await waitFor('2 fire times sent', async () => (await sentTimes('every-second')).length >= 2, 15_000);
    const old = leaders()[0];
    assert.ok(old);
    await once(old.s, 'fired');
    zk.suspend(old.session);
    await waitFor('the suspended leader to step down', () => !old.s.isLeader());
    const lastBefore = (await markers.list('every-second')).at(-1) as number;
    // Fire times pass with no leader (the suspended one's election node still stands first).
    await waitFor('2 fire times to pass', () => Date.now() >= lastBefore + 2500, 5000);
    assert.equal(leaders().length, 0, 'nobody leads while the old session may be alive');
    assert.deepEqual(await markers.list('every-second').then((ts) => ts.filter((t) => t > lastBefore)), [], 'nobody fired meanwhile');
    await zk.expire(old.session);
    await waitFor('a new leader', () => leaders().length === 1);
    const newLeader = leaders()[0];
    await waitFor('the gap and 2 more fire times', () => (newLeader?.fired.filter((e) => e.reason !== 'late').length ?? 0) >= 2, 15_000);
    await Promise.all(rs.map((r) => r.s.stop()));
    const { times } = await assertExactlyOncePerFireTime('every-second');
    const late = newLeader?.fired.filter((e) => e.reason === 'late').map((e) => e.fireTime) ?? [];
    assert.ok(late.length >= 2, `the gap was fired late (${late.map(compactFireTime).join(', ')})`);
    for (const t of late) assert.ok(t > lastBefore && times.includes(t));
  });

  it('tasks claimed but never sent (the queue was down) are sent by the next leader, with the same task id', async function () {
    const source = new ManualSource(makeSpec());
    await justAfterASecond();
    const failing = newScheduler(source, { queue: new FailingQueue({ store: qs }), sendAttempts: 1 });
    await failing.s.start();
    const rest = [newScheduler(source), newScheduler(source)];
    for (const r of rest) await r.s.start();
    assert.ok(failing.s.isLeader(), 'the first to stand leads');
    const problems: Error[] = [];
    failing.s.on('problem', (e) => problems.push(e));
    await waitFor('2 claimed, unsent fire times', async () => (await markers.list('every-second')).length >= 2 && problems.length >= 2, 15_000);
    await zk.expire(failing.session);
    await waitFor('a new leader', () => leaders().length === 1 && leaders()[0] !== failing);
    const newLeader = leaders()[0];
    await waitFor('2 more fire times', () => (newLeader?.fired.filter((e) => e.reason === 'schedule').length ?? 0) >= 2, 15_000);
    await Promise.all(running.map((r) => r.s.stop()));
    const { times } = await assertExactlyOncePerFireTime('every-second');
    const resent = newLeader?.fired.filter((e) => e.reason === 'resend').map((e) => e.fireTime) ?? [];
    assert.ok(resent.length >= 2, 'the claimed fire times were sent by the new leader');
    assert.deepEqual(resent, times.slice(0, resent.length), 'the oldest ones, in order');
    assert.equal(failing.fired.length, 0);
  });

  describe('catch-up of fire times missed while no scheduler was up', function () {
    // Tuesday 2026-03-10 03:30 UTC; the spec fires on Tuesdays at 03:00.
    const NOW = Date.parse('2026-03-10T03:30:00Z');
    const weekly = (catchup: 'none' | 'once') => makeSpec({ name: 'weekly', schedule: '0 3 * * 2', catchup });

    async function firedBefore(fireTime: string, schedule = '0 3 * * 2'): Promise<void> {
      const t = Date.parse(fireTime);
      await markers.init();
      await markers.claim({ spec: 'weekly', fireTime: t, schedule, timezone: 'UTC', reason: 'schedule', claimedBy: 'old', claimedAt: t });
      await markers.markSent('weekly', t, t);
    }

    async function startAndCheck(spec: TaskSpec) {
      const r = newScheduler(new ManualSource(spec), { clock: fixedClock(NOW) });
      const skipped: number[] = [];
      r.s.on('skipped', (e) => skipped.push(e.fireTime));
      await r.s.start();
      await waitFor('leadership', () => r.s.isLeader());
      await r.s.check();
      return { ...r, skipped, tasks: await drain() };
    }

    it('catchup: once fires the latest missed fire time at start, with its deterministic id', async function () {
      await firedBefore('2026-02-24T03:00:00Z');
      const { tasks, fired } = await startAndCheck(weekly('once'));
      assert.deepEqual(tasks.map((t) => t.taskId), ['weekly-20260310T030000Z'], 'only the latest of the two missed');
      assert.deepEqual(tasks[0]?.emittedBy, { kind: 'scheduler', user: 'host-0' });
      assert.deepEqual(fired.map((e) => e.reason), ['catchup']);
      assert.equal((await markers.read('weekly', Date.parse('2026-03-10T03:00:00Z')))?.marker.state, 'sent');
    });

    it('catchup: none (the default) skips it, and says so', async function () {
      await firedBefore('2026-03-03T03:00:00Z');
      const { tasks, skipped } = await startAndCheck(weekly('none'));
      assert.deepEqual(tasks, []);
      assert.deepEqual(skipped, [Date.parse('2026-03-10T03:00:00Z')]);
    });

    it('nothing to catch up for a spec that never fired, one already caught up, or one whose schedule changed', async function () {
      const never = await startAndCheck(weekly('once'));
      assert.deepEqual(never.tasks, []);
      await never.s.stop();

      await firedBefore('2026-03-10T03:00:00Z');
      const upToDate = await startAndCheck(weekly('once'));
      assert.deepEqual(upToDate.tasks, []);
      await upToDate.s.stop();

      await admin.removeRecursive(markers.specDir('weekly'));
      await firedBefore('2026-03-03T04:00:00Z', '0 4 * * 2');
      const changed = await startAndCheck(weekly('once'));
      assert.deepEqual(changed.tasks, []);
    });
  });

  it('reload: removed specs stop firing, changed ones are rescheduled, new ones start; invalid specs refuse the reload', async function () {
    const source = new ManualSource(makeSpec({ name: 'a' }), makeSpec({ name: 'b', schedule: '0 3 * * 2' }), makeSpec({ name: 'c', schedule: '0 4 * * 2' }));
    const { s } = newScheduler(source);
    await s.start();
    await waitFor('a fires', async () => (await sentTimes('a')).length >= 1, 15_000);

    source.set(makeSpec({ name: 'b' }), makeSpec({ name: 'c', schedule: '0 4 * * 2', limit: 2 }), makeSpec({ name: 'd' }));
    const r = await s.reload();
    assert.deepEqual({ applied: r.applied, added: r.added, removed: r.removed, changed: r.changed }, { applied: true, added: ['d'], removed: ['a'], changed: ['b', 'c'] });
    assert.deepEqual(s.specNames(), ['b', 'c', 'd']);
    const aFired = await markers.list('a');
    await waitFor('b and d fire twice', async () => (await sentTimes('b')).length >= 2 && (await sentTimes('d')).length >= 2, 15_000);
    assert.deepEqual(await markers.list('a'), aFired, 'a removed spec does not fire');

    source.issues = [{ file: 'broken.yaml', field: 'limit', message: 'must be a positive integer or a percentage like "10%"' }];
    source.set(makeSpec({ name: 'b' }));
    const refused = await s.reload();
    assert.equal(refused.applied, false);
    assert.deepEqual(refused.issues.map((i) => `${i.file}: ${i.field}`), ['broken.yaml: limit']);
    assert.deepEqual(s.specNames(), ['b', 'c', 'd'], 'the running set is kept');
  });

  it('a spec change that keeps the schedule sends the new spec at the next fire', async function () {
    const source = new ManualSource(makeSpec({ name: 'a' }));
    const { s } = newScheduler(source);
    await s.start();
    await waitFor('a fires', async () => (await sentTimes('a')).length >= 1, 15_000);
    source.set(makeSpec({ name: 'a', limit: 7 }));
    assert.deepEqual((await s.reload()).changed, ['a']);
    const after = Date.now();
    await waitFor('a fires again', async () => (await sentTimes('a')).some((t) => t > after), 15_000);
    await s.stop();
    const tasks = await drain();
    const last = tasks.filter((t) => t.spec.name === 'a').sort((x, y) => x.taskId.localeCompare(y.taskId)).at(-1);
    assert.deepEqual(last?.spec.limit, { kind: 'count', value: 7 });
  });

  it('prunes markers older than the retention, keeping the newest of every loaded spec, and drops the folders of removed specs', async function () {
    const NOW = Date.parse('2026-03-10T03:30:00Z');
    await markers.init();
    const mark = async (spec: string, daysAgo: number) => {
      const t = Math.floor((NOW - daysAgo * DAY) / 1000) * 1000;
      await markers.claim({ spec, fireTime: t, schedule: '0 3 * * 2', timezone: 'UTC', reason: 'schedule', claimedBy: 'old', claimedAt: t });
      await markers.markSent(spec, t, t);
      return t;
    };
    await mark('keep', 10);
    await mark('keep', 8);
    const recent = await mark('keep', 6);
    const onlyOld = await mark('old-only', 9);
    await mark('gone', 9);
    await mark('gone', 8);
    const source = new ManualSource(makeSpec({ name: 'keep', schedule: '0 3 * * 2' }), makeSpec({ name: 'old-only', schedule: '0 3 * * 2' }));
    const { s } = newScheduler(source, { clock: fixedClock(NOW), markerRetentionDays: 7 });
    await s.start();
    // Taking over prunes at once.
    await waitFor('the markers pruned', async () => (await markers.specs()).length === 2 && (await markers.list('keep')).length === 1);
    assert.equal(await s.pruneMarkers(), 0);
    assert.deepEqual(await markers.list('keep'), [recent]);
    assert.deepEqual(await markers.list('old-only'), [onlyOld], "the newest marker of a loaded spec is its 'last fired'");
    assert.deepEqual(await markers.specs(), ['keep', 'old-only']);
  });

  it('keeps at most markerMaxPerSpec markers of a spec that fires every second, but none inside the late-fire window', async function () {
    const NOW = Date.parse('2026-03-10T03:30:00Z');
    await markers.init();
    const mark = async (t: number) => {
      await markers.claim({ spec: 'often', fireTime: t, schedule: '* * * * * *', timezone: 'UTC', reason: 'schedule', claimedBy: 'old', claimedAt: t });
      await markers.markSent('often', t, t);
      return t;
    };
    // 20 fire times three hours ago (outside the 15-minute window plus an hour of skew), 8 in the last minutes.
    const old: number[] = [];
    for (let i = 20; i >= 1; i--) old.push(await mark(NOW - 3 * 3_600_000 - i * 1000));
    const recent: number[] = [];
    for (let i = 8; i >= 1; i--) recent.push(await mark(NOW - i * 1000));
    const source = new ManualSource(makeSpec({ name: 'often', schedule: '0 3 * * 2' }));
    const { s } = newScheduler(source, { clock: fixedClock(NOW), markerRetentionDays: 7, markerMaxPerSpec: 10, lateFireWindowMs: 15 * 60_000 });
    await s.start();
    await waitFor('the markers capped', async () => (await markers.list('often')).length === 10);
    // The newest 10 stay: the 8 recent ones and the 2 newest old ones.
    assert.deepEqual(await markers.list('often'), [...old.slice(-2), ...recent]);
    assert.equal(await s.pruneMarkers(), 0);

    // A cap smaller than the window holds: every marker a late fire could look for stays.
    await s.stop();
    const tight = newScheduler(source, { clock: fixedClock(NOW), markerRetentionDays: 7, markerMaxPerSpec: 3, lateFireWindowMs: 15 * 60_000 });
    await tight.s.start();
    await waitFor('the old markers pruned', async () => (await markers.list('often')).length === 8);
    assert.deepEqual(await markers.list('often'), recent);
    await tight.s.stop();
  });

  it('refuses a marker cap that is not a positive whole number, naming the option', () => {
    assert.throws(() => newScheduler(new ManualSource(), { markerMaxPerSpec: 0 }), /markerMaxPerSpec: must be a positive whole number/);
  });
});

// ---- CLI helpers ---------------------------------------------------------------------------------------------

describe('taskerman scheduler --watch', function () {
  it('reloads once per burst of changes in the folder', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'taskerman-watch-'));
    let calls = 0;
    const stop = watchSpecs(dir, () => calls++, silentLogger, 100, false);
    try {
      await writeFile(join(dir, 'a.yaml'), 'name: a\n');
      await writeFile(join(dir, 'b.yaml'), 'name: b\n');
      await writeFile(join(dir, 'a.yaml'), 'name: a2\n');
      await waitFor('a reload', () => calls >= 1, 5000);
      await sleep(300);
      assert.equal(calls, 1);
    } finally {
      stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('taskerman schema', function () {
  it('prints the JSON Schema of a spec file: the input side of the validator, with the accepted forms and descriptions', async function () {
    const schema = taskSpecJsonSchema() as { properties: Record<string, Record<string, unknown>>; required: string[]; additionalProperties: boolean; title: string };
    assert.equal(schema.title, 'Taskerman task spec');
    assert.deepEqual(schema.required, ['name', 'action', 'cluster']);
    assert.equal(schema.additionalProperties, false);
    const limit = schema.properties.limit as { anyOf: { type: string }[] };
    assert.deepEqual(limit.anyOf.map((f) => f.type), ['integer', 'string']);
    const timeout = schema.properties.timeout as { anyOf: { type: string; pattern?: string }[] };
    assert.deepEqual(timeout.anyOf.map((f) => f.type), ['number', 'string']);
    const durationRe = new RegExp(timeout.anyOf[1]?.pattern ?? '');
    for (const ok of ['30m', '1h30m', '250ms', '90', '1.5s']) assert.match(ok, durationRe);
    assert.doesNotMatch('30 minutes', durationRe);
    for (const k of ['name', 'action', 'cluster', 'limit', 'max_failures', 'schedule', 'timezone', 'catchup', 'timeout', 'nodes', 'destnode']) {
      assert.equal(typeof schema.properties[k]?.description, 'string', `${k} has a description`);
    }
    assert.deepEqual(schema.properties.catchup?.enum, ['none', 'once']);
    assert.equal(schema.properties.version?.maximum, undefined);

    const out: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((chunk: string) => out.push(chunk) > 0) as typeof process.stdout.write;
    try {
      await schemaCommand().parseAsync([], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    assert.deepEqual(JSON.parse(out.join('')), schema);
  });
});
