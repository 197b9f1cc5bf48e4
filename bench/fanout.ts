// Fan-out benchmark: one router routes a task of N explicit nodes against a real ZooKeeper server and the
// SQS-protocol server (fauxqs, in this process) on loopback; no runner. Prints the time from submit to
// `routed` for the first task (the cluster's queues are created: one CreateQueue per node queue) and for a
// second one (queues exist), with the ZooKeeper requests and bytes and the SQS requests of each (counted by the
// server). The router sends through Taskerman's own SQS transport, as in production; --sdk sends through an
// injected AWS SDK client instead, for comparison.
//
//   npm run bench:fanout -- --nodes 1000 [--timeout 120] [--concurrency 64] [--sdk]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import { builtinRegistry } from '../actions/builtin.js';
import { ZkCoordinator } from '../core/coordination/zk-coordinator.js';
import { ExplicitDiscovery } from '../core/discovery/discovery.js';
import { silentLogger } from '../core/logger.js';
import { queueNames } from '../core/queue/queue-names.js';
import { SqsWorkQueue } from '../core/queue/sqs-work-queue.js';
import { emitTask } from '../core/task/emit.js';
import { parseTaskSpec } from '../core/task/task-spec.js';
import { TaskStore } from '../core/task/task-store.js';
import { Router } from '../router/router.js';
import { startZkServer } from '../test/support/zk-server.js';
import { startCountingSqs } from './bench-support.js';
import { CountingCoordinator } from './counting-coordinator.js';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '1000' }, timeout: { type: 'string', default: '120' }, concurrency: { type: 'string' }, sdk: { type: 'boolean', default: false } } });
const N = Number(values.nodes);
const TIMEOUT_MS = Number(values.timeout) * 1000;
if (!(N >= 1 && TIMEOUT_MS > 0)) throw new Error('usage: --nodes N [--timeout seconds]');

const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' };
const clients: SQSClient[] = [];
/** The router's and the submitter's queue: the default transport, or (--sdk) an AWS SDK client. */
function workQueue(endpoint: string): SqsWorkQueue {
  if (!values.sdk) return new SqsWorkQueue({ endpoint, region: 'us-east-1', credentials });
  const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials, useQueueUrlAsEndpoint: false });
  clients.push(sqs);
  return new SqsWorkQueue({ sqs, endpoint });
}

const fmt = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

const zk = await startZkServer();
const sqs = await startCountingSqs();
const sqsRequests = sqs.requests;
const root = '/bench';
const names = queueNames('bench');
const cluster = 'bench:fanout';
// Short names: a task message (the explicit node list in its spec) must fit SQS's 256 KiB.
const nodes = Array.from({ length: N }, (_, i) => `node-${String(i + 1).padStart(5, "0")}`);
const sessions: ZkCoordinator[] = [];
try {
  const admin = workQueue(sqs.endpoint);
  const adminZk = await ZkCoordinator.connect({ connectionString: zk.connectionString, sessionTimeoutMs: 10_000 });
  sessions.push(adminZk);
  const store = new TaskStore(adminZk, root);
  await store.init();
  const routerZkRaw = await ZkCoordinator.connect({ connectionString: zk.connectionString, sessionTimeoutMs: 10_000 });
  sessions.push(routerZkRaw);
  const routerZk = new CountingCoordinator(routerZkRaw);
  const router = new Router({
    queue: workQueue(sqs.endpoint),
    store: new TaskStore(routerZk, root),
    names,
    registry: builtinRegistry(),
    discovery: { explicit: new ExplicitDiscovery() },
    logger: silentLogger,
    ...(values.concurrency ? { fanoutConcurrency: Number(values.concurrency) } : {}),
  });
  await router.start();
  const problems: string[] = [];
  router.on('problem', (e) => problems.push(e.message.slice(0, 200)));
  const rejected: string[] = [];
  router.on('rejected', (e) => rejected.push(e.reason.slice(0, 200)));

  const route = async (label: string): Promise<void> => {
    sqsRequests.clear();
    routerZk.reset();
    problems.length = 0;
    const spec = parseTaskSpec({ name: `fanout-${label}`, action: 'noop', cluster, nodes, limit: 10 });
    const t0 = performance.now();
    const task = await emitTask(admin, names, spec, { kind: 'cli', user: 'bench' });
    const routed = new Promise<number>((resolve) => {
      const on = (e: { taskId: string }) => {
        if (e.taskId !== task.taskId) return;
        router.off('routed', on);
        resolve(performance.now());
      };
      router.on('routed', on);
    });
    const t1 = await Promise.race([routed, new Promise<undefined>((r) => void setTimeout(() => r(undefined), TIMEOUT_MS).unref())]);
    const state = (await store.getTask(task.taskId))?.value.state ?? 'not recorded';
    console.log(`${label.padEnd(6)} ${t1 === undefined ? `NOT routed after ${TIMEOUT_MS / 1000} s (task: ${state})` : `routed in ${((t1 - t0) / 1000).toFixed(2)} s`}`);
    console.log(`         zookeeper: ${routerZk.total} requests (${fmt(routerZk.requests)}), ${(routerZk.bytesWritten / 1024).toFixed(0)} KiB written, ${(routerZk.bytesRead / 1024).toFixed(0)} KiB read, largest request ${(routerZk.largestRequest / 1024).toFixed(0)} KiB`);
    console.log(`         sqs: ${sum(sqsRequests)} requests (${fmt(sqsRequests)})`);
    if (problems.length) console.log(`         router problems: ${problems.length}, e.g. ${problems[0]}`);
    if (rejected.length) console.log(`         rejected: ${rejected.join('; ')}`);
  };

  console.log(`fanout: ${N} explicit nodes, one router, real ZooKeeper + fauxqs (in this process) on loopback, SQS through ${values.sdk ? 'the AWS SDK' : 'its own transport'}; load average ${(await import('node:os')).loadavg()[0]?.toFixed(2)}`);
  await route('first');
  await route('second');
  await router.stop();
  await admin.close();
} finally {
  await Promise.allSettled(sessions.map((s) => s.close()));
  for (const c of clients) c.destroy();
  await sqs.stop();
  await zk.stop();
}
