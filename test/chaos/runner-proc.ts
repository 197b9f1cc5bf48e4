// One chaos runner process: a real Runner for one node (CHAOS_NODE) on a real ZooKeeper session and SQS
// client, with the `chaos-sleep` action. Started and killed (SIGTERM, or SIGKILL mid-execute) by chaos.ts.
//
//   CHAOS_ZK=127.0.0.1:2181 CHAOS_ZK_ROOT=/c CHAOS_SQS=http://127.0.0.1:4566 CHAOS_QUEUE_PREFIX=c \
//   CHAOS_CLUSTER=chaos:c1 CHAOS_NODE=n01 CHAOS_PROBE=/tmp/probe.jsonl node --import tsx test/chaos/runner-proc.ts
import { builtinRegistry } from '../../actions/builtin.js';
import { queueNames } from '../../core/queue/queue-names.js';
import { Runner } from '../../runner/runner.js';
import { chaosSleepAction } from './chaos-action.js';
import { childBackends, childLogger, runChild } from './child-support.js';
import { CHILD_VISIBILITY_SEC, ENV, requiredEnv } from './proc-env.js';

const node = requiredEnv(ENV.node);
const log = childLogger(`runner-${node}`);
const failNodes = new Set((process.env[ENV.failNodes] ?? '').split(',').filter(Boolean));
const backends = await childBackends(log);
const runner = new Runner({
  cluster: requiredEnv(ENV.cluster),
  node,
  queue: backends.queue,
  store: backends.store,
  names: queueNames(requiredEnv(ENV.queuePrefix)),
  registry: builtinRegistry({ extra: [chaosSleepAction({ probeFile: requiredEnv(ENV.probe), failNodes })] }),
  logger: log,
  visibilitySec: CHILD_VISIBILITY_SEC,
  waitSec: 1,
  retryPauseMs: 200,
  drainTimeoutMs: 5000,
  deadRecheckMs: 1000,
  // The health check of the health-flap fault, from the runner's local config as in production.
  ...(process.env[ENV.healthFile] ? { checks: { flap: { argv: ['/bin/sh', '-c', 'test -f "$CHAOS_HEALTH_FILE"'] } }, keeperTickMs: 1000 } : {}),
});
// 'problem' is logged by the runner already; listening keeps it from being an unhandled event.
runner.on('problem', () => undefined);
await runChild(
  log,
  () => runner.start(),
  async () => {
    await runner.stop();
    await backends.close();
  },
);
