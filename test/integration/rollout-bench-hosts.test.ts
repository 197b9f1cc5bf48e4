// The child processes of `bench:rollout --procs` (bench/rollout/remote-host.ts, worker.ts): a host starts and
// answers over IPC, stops and exits when asked, fails its callers at once when it dies, fails to start with
// the reason, and never outlives the process that spawned it. Hosts here serve SQS only (no ZooKeeper needed):
// the lifecycle is the same for every role.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { liveHosts, RemoteHost } from '../../bench/rollout/remote-host.js';
import { waitUntil } from '../support/wait-until.js';

const REMOTE_HOST = fileURLToPath(new URL('../../bench/rollout/remote-host.ts', import.meta.url));
const plan = { label: 'sqs', zk: '127.0.0.1:1', sqs: true, nodes: [] };

/** True while a process with this pid exists and is not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

describe('bench:rollout --procs child hosts', function () {
  this.timeout(90_000);

  it('starts, answers, counts the SQS requests it serves, and exits when stopped', async () => {
    const host = await RemoteHost.spawn(plan);
    const pid = host.pid as number;
    try {
      assert.match(host.sqsEndpoint ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
      const q = new SqsWorkQueue({ endpoint: host.sqsEndpoint, region: 'us-east-1', credentials: { accessKeyId: 't', secretAccessKey: 't' } });
      await q.list('hosts-test');
      await q.close();
      const before = await host.sqsCounts();
      assert.ok((before.ListQueues ?? 0) >= 1, `ListQueues counted: ${JSON.stringify(before)}`);
      await host.measure(['t1']);
      assert.deepEqual(await host.sqsCounts(), {});
      const report = await host.collect();
      assert.equal(report.pid, pid);
      assert.equal(report.label, 'sqs');
      assert.deepEqual(report.events, []);
      assert.ok(report.rssMiB > 0);
    } finally {
      await host.stop();
    }
    assert.equal(alive(pid), false);
    assert.equal(liveHosts(), 0);
  });

  it('fails the calls of a host that died at once, with how it ended', async () => {
    const host = await RemoteHost.spawn(plan);
    const pid = host.pid as number;
    process.kill(pid, 'SIGKILL');
    await waitUntil('the child gone', async () => !alive(pid), 10_000);
    await assert.rejects(host.collect(), /sqs killed by SIGKILL/);
    await host.stop();
  });

  it('fails to start with the reason, and leaves no child', async () => {
    const before = liveHosts();
    await assert.rejects(RemoteHost.spawn({ label: 'runners-x', zk: '127.0.0.1:1', nodes: ['n1'] }), /^Error: runners-x: host runners-x: no SQS endpoint for its router or runners$/);
    assert.equal(liveHosts(), before);
  });

  it('exits when the process that spawned it goes away, however it went', async () => {
    const code = `const { RemoteHost } = await import(${JSON.stringify(REMOTE_HOST)}); const h = await RemoteHost.spawn(${JSON.stringify(plan)}); console.log('child ' + h.pid); setInterval(() => {}, 1000);`;
    const driver = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    driver.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    try {
      const pid = await waitUntil('the driver to spawn its child', async () => Number(/child (\d+)/.exec(out)?.[1]) || undefined, 60_000);
      assert.equal(alive(pid), true);
      driver.kill('SIGKILL');
      await waitUntil(`child ${pid} to exit after its parent was killed`, async () => !alive(pid), 10_000);
    } finally {
      driver.kill('SIGKILL');
    }
  });
});
