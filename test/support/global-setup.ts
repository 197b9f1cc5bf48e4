// Mocha global fixtures: one real ZooKeeper server and one SQS-protocol server (fauxqs) for the whole run,
// on free loopback ports, stopped afterwards. Tests read their addresses from `test/support/env.ts` and use a
// fresh namespace each (ZooKeeper root, queue prefix), so they never share state.
import { startSqsServer, type SqsServer } from './sqs-server.js';
import { startZkServer, zookeeperAvailable, type ZkServer } from './zk-server.js';

let zk: ZkServer | undefined;
let sqs: SqsServer | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  if (zookeeperAvailable()) {
    zk = await startZkServer();
    process.env.TASKERMAN_TEST_ZK = zk.connectionString;
  } else if (process.env.CI) {
    throw new Error('ZooKeeper is not installed: run `apt-get install -y zookeeper` (test/run.sh does it)');
  } else {
    process.stderr.write('! ZooKeeper is not installed: integration tests that need it are skipped\n');
  }
  sqs = await startSqsServer();
  process.env.TASKERMAN_TEST_SQS = sqs.endpoint;
}

export async function mochaGlobalTeardown(): Promise<void> {
  await Promise.allSettled([zk?.stop(), sqs?.stop()]);
}
