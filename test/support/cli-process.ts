// Running the `taskerman` command as an operator does, for integration tests: separate processes from the
// sources (`node --import tsx cli/main.ts`, so a stale dist/ cannot hide a change), with only the environment
// they are given; waiting for a process's output or exit with a bounded timeout, never by sleeping; every
// process still running after a test is killed (`killAll`).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { within } from '../contract/coordinator.contract.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
export const TASK_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;
/** One-shot commands: connecting, doing their thing and closing take well under this. */
export const COMMAND_MS = 30_000;
export const READY_MS = 30_000;
export const DRAIN_MS = 15_000;
export const KILL_MS = 5_000;

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const running = new Set<Proc>();
const outputListeners = new Set<() => void>();

/** What every spawned CLI gets: only the variables it needs, plus PATH/HOME for the runtime. */
export function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'USER', 'LANG', 'TMPDIR'];
  const env: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, NODE_NO_WARNINGS: '1', ...extra };
}

/** How the command is started: from the sources, unless a test names another entry (the bundle's main.js). */
/** The environment of a command against the test's ZooKeeper (under `root`) and SQS server, fresh queue names. */
export function backendEnv(zk: string, root: string, sqsEndpoint: string, queuePrefix: string): NodeJS.ProcessEnv {
  return cliEnv({
    TASKERMAN_ZK: zk,
    TASKERMAN_ZK_ROOT: root,
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    TASKERMAN_QUEUE_PREFIX: queuePrefix,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  });
}

export const FROM_SOURCES: readonly string[] = ['--import', 'tsx', 'cli/main.ts'];

export function start(name: string, args: string[], env: NodeJS.ProcessEnv, entry: readonly string[] = FROM_SOURCES): Proc {
  const child = spawn(process.execPath, [...entry, ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const proc: Proc = { name, child, stdout: '', stderr: '', exited };
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    proc.stdout += d;
    for (const l of [...outputListeners]) l();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    proc.stderr += d;
    for (const l of [...outputListeners]) l();
  });
  running.add(proc);
  void exited.then(() => {
    running.delete(proc);
    for (const l of [...outputListeners]) l();
  });
  return proc;
}


export function describeProc(p: Proc): string {
  return `${p.name}\n--- stdout ---\n${p.stdout.slice(-3000)}\n--- stderr ---\n${p.stderr.slice(-3000)}`;
}

/** Runs a command to completion (killed if it takes longer than `ms`). */
export async function cli(args: string[], env: NodeJS.ProcessEnv, ms = COMMAND_MS, entry: readonly string[] = FROM_SOURCES): Promise<Result> {
  const p = start(`taskerman ${args.join(' ')}`, args, env, entry);
  try {
    const { code, signal } = await within(p.exited, `\`${p.name}\` to exit`, ms);
    return { code, signal, stdout: p.stdout, stderr: p.stderr };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${describeProc(p)}`);
  }
}

/** Resolves once a JSON log line of `p` has `msg`; rejects if `p` exits first. */
export function waitForLog(p: Proc, msg: string, ms = READY_MS): Promise<void> {
  let listener: (() => void) | undefined;
  const seen = new Promise<void>((resolve, reject) => {
    listener = () => {
      const hit = p.stdout.split('\n').some((line) => {
        if (!line.startsWith('{')) return false;
        try {
          return (JSON.parse(line) as { msg?: unknown }).msg === msg;
        } catch {
          return false;
        }
      });
      if (hit) return resolve();
      if (p.child.exitCode !== null || p.child.signalCode !== null) reject(new Error(`${p.name} exited before logging "${msg}"\n${describeProc(p)}`));
    };
    outputListeners.add(listener);
    listener();
  });
  return within(seen, `${p.name} to log "${msg}"`, ms)
    .catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${describeProc(p)}`);
    })
    .finally(() => {
      if (listener) outputListeners.delete(listener);
    });
}

export async function killAll(): Promise<void> {
  const procs = [...running];
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => within(p.exited, `${p.name} to die`, KILL_MS).catch(() => undefined)));
}

export function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}

/** Resolves once `p` printed a line (stdout or stderr) matching `re`; rejects if `p` exits first. */
export function waitForOutput(p: Proc, stream: 'stdout' | 'stderr', re: RegExp, ms = READY_MS): Promise<string> {
  let listener: (() => void) | undefined;
  const seen = new Promise<string>((resolve, reject) => {
    listener = () => {
      const hit = p[stream].split('\n').find((l) => re.test(l));
      if (hit !== undefined) return resolve(hit);
      if (p.child.exitCode !== null || p.child.signalCode !== null) reject(new Error(`${p.name} exited before printing ${re}\n${describeProc(p)}`));
    };
    outputListeners.add(listener);
    listener();
  });
  return within(seen, `${p.name} to print ${re}`, ms)
    .catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${describeProc(p)}`);
    })
    .finally(() => {
      if (listener) outputListeners.delete(listener);
    });
}
