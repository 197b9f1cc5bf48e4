// Idle daemons: a runner, a router and a runner whose queues do not exist yet (a node never targeted) started as an operator starts them (bin/taskerman.js; the compiled
// dist/ when built), each against its own SQS-protocol server that counts its requests, and a real
// ZooKeeper server; nothing to do. After a warm-up, for --seconds: RSS (largest sampled, once a second),
// CPU as a share of one core, and SQS requests, also per hour.
//
//   npm run bench:idle -- [--seconds 60] [--warmup 10]
import os from 'node:os';
import { parseArgs } from 'node:util';
import { queueNames } from '../core/queue/queue-names.js';
import { SqsWorkQueue } from '../core/queue/sqs-work-queue.js';
import { startZkServer } from '../test/support/zk-server.js';
import { cliEnv, cpuMs, rssMiB, startCountingSqs, startDaemon, type CountingSqs, type Daemon } from './bench-support.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '60' }, warmup: { type: 'string', default: '10' } } });
const SECONDS = Number(values.seconds);
const WARMUP = Number(values.warmup);
const CLUSTER = 'bench:idle';
const NODE = 'idle-1';

const zk = await startZkServer();
const sqsRunner = await startCountingSqs();
const sqsRouter = await startCountingSqs();
const sqsFresh = await startCountingSqs();
const daemons: Daemon[] = [];
try {
  // A runner's queues exist before it starts (the router or terraform made them).
  const names = queueNames('taskerman');
  const admin = new SqsWorkQueue({ endpoint: sqsRunner.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  for (const q of [names.cluster(CLUSTER), names.node(CLUSTER, NODE)]) await admin.ensureQueue({ name: q, deadLetter: names.clusterDlq(CLUSTER), maxReceiveCount: 10, visibilityTimeoutSec: 60 });
  await admin.close();

  const runner = await startDaemon(['runner', '--cluster', CLUSTER, '--node', NODE], cliEnv(zk.connectionString, sqsRunner.endpoint), /runner started/);
  daemons.push(runner);
  const router = await startDaemon(['router'], cliEnv(zk.connectionString, sqsRouter.endpoint), /router started/);
  daemons.push(router);
  // A runner on a node no task has targeted yet: its queues do not exist.
  const fresh = await startDaemon(['runner', '--cluster', 'bench:idle-new', '--node', 'new-1'], cliEnv(zk.connectionString, sqsFresh.endpoint), /runner started/);
  daemons.push(fresh);
  await new Promise((r) => setTimeout(r, WARMUP * 1000));

  const watch = [
    { name: 'runner', d: runner, sqs: sqsRunner },
    { name: 'router', d: router, sqs: sqsRouter },
    { name: 'runner (its queues not created yet)', d: fresh, sqs: sqsFresh },
  ].map((w) => ({ ...w, pid: w.d.child.pid as number, cpu0: cpuMs(w.d.child.pid as number), maxRss: 0 }));
  for (const s of [sqsRunner, sqsRouter, sqsFresh] as CountingSqs[]) s.requests.clear();
  const t0 = Date.now();
  while (Date.now() - t0 < SECONDS * 1000) {
    for (const w of watch) w.maxRss = Math.max(w.maxRss, rssMiB(w.pid));
    await new Promise((r) => setTimeout(r, 1000));
  }
  const wall = Date.now() - t0;
  console.log(`idle: ${SECONDS} s after a ${WARMUP} s warm-up; node ${process.version}; load average ${os.loadavg()[0]?.toFixed(2)} (the machine is shared: CPU figures include scheduling noise)`);
  for (const w of watch) {
    const cpu = ((cpuMs(w.pid) - w.cpu0) / wall) * 100;
    const total = w.sqs.total();
    const byAction = [...w.sqs.requests.entries()].map(([k, v]) => `${k} ${v}`).join(', ');
    console.log(`${w.name} RSS ${rssMiB(w.pid).toFixed(1)} MiB (max ${w.maxRss.toFixed(1)})  CPU ${cpu.toFixed(2)} % of a core  SQS ${total} requests (${byAction || 'none'}) = ${((total * 3600_000) / wall).toFixed(0)}/h`);
  }
} finally {
  await Promise.allSettled(daemons.map((d) => d.stop()));
  await Promise.allSettled([sqsRunner.stop(), sqsRouter.stop(), sqsFresh.stop()]);
  await zk.stop();
}
