// The environment contract between the chaos driver and the processes it starts (runner-proc.ts,
// router-proc.ts): every setting a child needs, by name, read in one place with a message naming what is
// missing.
export const ENV = {
  zk: 'CHAOS_ZK',
  zkRoot: 'CHAOS_ZK_ROOT',
  sqs: 'CHAOS_SQS',
  queuePrefix: 'CHAOS_QUEUE_PREFIX',
  cluster: 'CHAOS_CLUSTER',
  node: 'CHAOS_NODE',
  probe: 'CHAOS_PROBE',
  failNodes: 'CHAOS_FAIL_NODES',
  sendDelayMs: 'CHAOS_SEND_DELAY_MS',
  logLevel: 'CHAOS_LOG_LEVEL',
  /** The runners' health check `flap` passes while this file exists (the driver removes it to close the gate). */
  healthFile: 'CHAOS_HEALTH_FILE',
} as const;

/** ZooKeeper session timeout of every chaos process: short, so that a killed runner's slot frees quickly. */
export const CHILD_SESSION_TIMEOUT_MS = 4000;
/** Visibility of a message in hand (runners, routers, the queues they create), seconds. */
export const CHILD_VISIBILITY_SEC = 5;
/** What a child prints on stdout once it has started, so the driver waits for it instead of sleeping. */
export const READY_LINE = 'ready';

export function requiredEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = env[name];
  if (!v) throw new Error(`chaos process: environment variable ${name} is required (set by test/chaos/chaos.ts)`);
  return v;
}

/** SQS test credentials: fauxqs accepts any signature, and the children must never pick up real ones. */
export const TEST_CREDENTIALS = { accessKeyId: 'chaos', secretAccessKey: 'chaos' };
