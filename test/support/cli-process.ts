// `taskerman` commands as separate processes, for integration tests: run from the sources (`node --import tsx
// cli/main.ts`, so a stale dist/ cannot hide a change), with only the environment they are given. Nothing
// sleeps: a test waits for a process's exit or for a line of its output, each with a bounded timeout, and
// every process still running is killed by `killAll` (call it in afterEach).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { within } from '../contract/coordinator.contract.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CliProc {
  readonly name: string;
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const running = new Set<CliProc>();
const listeners = new Set<() => void>();
const notify = () => {
  for (const l of [...listeners]) l();
};

/** PATH, HOME, USER and the like, plus `extra`: nothing else of the test's environment leaks in. */
export function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'USER', 'LANG', 'TMPDIR']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, NODE_NO_WARNINGS: '1', ...extra };
}

export function startCli(name: string, args: string[], env: NodeJS.ProcessEnv): CliProc {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
  const proc: CliProc = { name, child, stdout: '', stderr: '', exited };
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    proc.stdout += d;
    notify();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    proc.stderr += d;
    notify();
  });
  running.add(proc);
  void exited.then(() => {
    running.delete(proc);
    notify();
  });
  return proc;
}

export function describeProc(p: Pick<CliProc, 'name' | 'stdout' | 'stderr'>): string {
  return `${p.name}\n--- stdout ---\n${p.stdout.slice(-3000)}\n--- stderr ---\n${p.stderr.slice(-3000)}`;
}

/** Runs a command to completion; fails the test if it takes longer than `ms`. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, ms = 30_000): Promise<CliResult> {
  const p = startCli(`taskerman ${args.join(' ')}`, args, env);
  try {
    const { code, signal } = await within(p.exited, `\`${p.name}\` to exit`, ms);
    return { code, signal, stdout: p.stdout, stderr: p.stderr };
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${describeProc(p)}`);
  }
}

/** Resolves once `test` holds for the process's output; rejects if it exits first or `ms` passes. */
export function waitForOutput(p: CliProc, what: string, test: (p: CliProc) => boolean, ms = 30_000): Promise<void> {
  let listener: (() => void) | undefined;
  const seen = new Promise<void>((resolve, reject) => {
    listener = () => {
      if (test(p)) return resolve();
      if (p.child.exitCode !== null || p.child.signalCode !== null) reject(new Error(`${p.name} exited before ${what}\n${describeProc(p)}`));
    };
    listeners.add(listener);
    listener();
  });
  return within(seen, `${p.name}: ${what}`, ms)
    .catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${describeProc(p)}`);
    })
    .finally(() => {
      if (listener) listeners.delete(listener);
    });
}

/** A JSON log line of `p` (pino, on stdout) has this `msg`. */
export const logged = (msg: string) => (p: CliProc) =>
  p.stdout.split('\n').some((line) => {
    if (!line.startsWith('{')) return false;
    try {
      return (JSON.parse(line) as { msg?: unknown }).msg === msg;
    } catch {
      return false;
    }
  });

export async function killAll(): Promise<void> {
  const procs = [...running];
  for (const p of procs) p.child.kill('SIGKILL');
  await Promise.all(procs.map((p) => within(p.exited, `${p.name} to die`, 5000).catch(() => undefined)));
}

export const outputLines = (s: string): string[] => s.split('\n').filter((l) => l.trim() !== '');
