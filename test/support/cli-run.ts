// Running the `taskerman` command as a separate process from the sources (`node --import tsx cli/main.ts`),
// with only the environment it is given, bounded in time (killed past it).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ['PATH', 'HOME', 'LANG', 'TMPDIR']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, NODE_NO_WARNINGS: '1', ...extra };
}

export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`taskerman ${args.join(' ')} took longer than ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    child.once('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
  });
}

export interface Daemon {
  readonly output: { stdout: string; stderr: string };
  /** Resolves once stdout has a JSON log line whose msg is `msg` (bounded). */
  logged(msg: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts a long-running command (a daemon) from the sources. */
export function startCli(args: string[], env: NodeJS.ProcessEnv): Daemon {
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d: string) => (output.stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (output.stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const hasLog = (msg: string) =>
    output.stdout.split('\n').some((l) => {
      try {
        return l.startsWith('{') && (JSON.parse(l) as { msg?: string }).msg === msg;
      } catch {
        return false;
      }
    });
  return {
    output,
    async logged(msg, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!hasLog(msg)) {
        if (child.exitCode !== null) throw new Error(`taskerman ${args.join(' ')} exited before logging "${msg}"\n${output.stdout}\n${output.stderr}`);
        if (Date.now() > deadline) throw new Error(`taskerman ${args.join(' ')} did not log "${msg}" within ${timeoutMs} ms\n${output.stdout}\n${output.stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}
