// What runner-proc.ts and router-proc.ts share: the logger (pino JSON on stderr, which the driver sends to
// a file per process), the backends built from the environment, and the lifecycle (print `ready` once
// started; SIGTERM stops gracefully and exits 0; anything unexpected exits 1, which the driver reports).
import { pino } from 'pino';
import { createLogger, type Logger } from '../../core/logger.js';
import { SqsWorkQueue } from '../../core/queue/sqs-work-queue.js';
import { TaskStore } from '../../core/task/task-store.js';
import { ZkCoordinator } from '../../core/coordination/zk-coordinator.js';
import type { LevelWithSilent } from 'pino';
import { CHILD_SESSION_TIMEOUT_MS, ENV, READY_LINE, requiredEnv, TEST_CREDENTIALS } from './proc-env.js';

export function childLogger(name: string): Logger {
  const level = (process.env[ENV.logLevel] ?? 'info') as LevelWithSilent;
  // Synchronous: a process killed with SIGKILL keeps every line it logged before.
  return createLogger({ level, name, destination: pino.destination({ dest: 2, sync: true }) });
}

export interface ChildBackends {
  store: TaskStore;
  queue: SqsWorkQueue;
  close(): Promise<void>;
}

export async function childBackends(log: Logger): Promise<ChildBackends> {
  const coordinator = await ZkCoordinator.connect({
    connectionString: requiredEnv(ENV.zk),
    sessionTimeoutMs: CHILD_SESSION_TIMEOUT_MS,
    logger: log.child({ component: 'zk' }),
  });
  const store = new TaskStore(coordinator, requiredEnv(ENV.zkRoot));
  const queue = new SqsWorkQueue({ endpoint: requiredEnv(ENV.sqs), region: 'us-east-1', credentials: TEST_CREDENTIALS });
  return {
    store,
    queue,
    close: async () => {
      await queue.close().catch(() => undefined);
      await coordinator.close().catch(() => undefined);
    },
  };
}

/** Runs a daemon: start, print `ready`, stop on SIGTERM/SIGINT and exit 0; exit 1 on anything unexpected. */
export async function runChild(log: Logger, start: () => Promise<void>, stop: () => Promise<void>): Promise<void> {
  const fail = (what: string, err: unknown) => {
    log.fatal({ err }, what);
    process.exit(1);
  };
  process.on('uncaughtException', (err) => fail('uncaught exception', err));
  process.on('unhandledRejection', (err) => fail('unhandled rejection', err));
  let stopping = false;
  const onSignal = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping');
    // Bounded: the driver kills the process if it outlives its grace period anyway.
    stop().then(
      () => process.exit(0),
      (err: unknown) => fail('stop failed', err),
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  try {
    await start();
  } catch (err) {
    fail('start failed', err);
    return;
  }
  process.stdout.write(`${READY_LINE}\n`);
}
