// Running a local program: an argv array with no shell (nothing from a message is ever interpolated into a
// shell line, DESIGN.md invariant 5), in its own process group so that a timeout or the action's abort
// signal kills the whole tree (SIGTERM, then SIGKILL after a grace), with stdout and stderr captured up to a
// bound (a chatty program cannot eat the runner's memory) and the exit status returned for the caller to
// judge. `runChecked` is the common case: exit 0 or a one-line error naming the command and its stderr.
import { spawn } from 'node:child_process';
import { AbortedError, TaskermanError, TimeoutError } from '../../core/errors.js';

export interface CommandOptions {
  signal: AbortSignal;
  /** Kill the process group after this long (ms); default 60 000. */
  timeoutMs?: number;
  cwd?: string;
  /** Added to the runner's environment (credentials such as PGPASSWORD go here, never into argv). */
  env?: Record<string, string>;
  /** Written to the program's stdin, then stdin is closed; default: stdin is /dev/null. */
  input?: string;
  /** Bytes kept of each of stdout and stderr; default 1 MiB. The rest is dropped and `truncated` set. */
  maxOutputBytes?: number;
  /** Grace between SIGTERM and SIGKILL of the group (ms); default 5 000. */
  killGraceMs?: number;
}

export interface CommandResult {
  argv: string[];
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Some output was dropped (over maxOutputBytes). */
  truncated: boolean;
  durationMs: number;
}

export const DEFAULT_COMMAND_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1 << 20;
const DEFAULT_KILL_GRACE_MS = 5_000;

class Capture {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly max: number) {}
  add(b: Buffer): void {
    const room = this.max - this.size;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const kept = b.length > room ? b.subarray(0, room) : b;
    if (kept.length < b.length) this.truncated = true;
    this.chunks.push(kept);
    this.size += kept.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/**
 * Runs argv and resolves with how it ended, whatever the exit code. Rejects only when the program cannot be
 * started (ACTION_FAILED, not retryable: a missing binary stays missing), when the signal aborted
 * (AbortedError) or when the timeout killed it (TimeoutError).
 */
export function runCommand(argv: readonly string[], o: CommandOptions): Promise<CommandResult> {
  const [file, ...rest] = argv;
  if (!file) return Promise.reject(new TaskermanError('INVALID_OPTION', 'runCommand: empty argv', { retryable: false }));
  const timeoutMs = o.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  const grace = o.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const max = o.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const started = Date.now();
  return new Promise((resolve, reject) => {
    if (o.signal.aborted) return reject(new AbortedError(`not started: ${file}`, { cause: o.signal.reason }));
    const child = spawn(file, rest, {
      shell: false,
      detached: true,
      stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      cwd: o.cwd,
      env: { ...process.env, ...o.env },
    });
    const out = new Capture(max);
    const err = new Capture(max);
    child.stdout?.on('data', (b: Buffer) => out.add(b));
    child.stderr?.on('data', (b: Buffer) => err.add(b));
    if (o.input !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined); // the program may exit without reading it
      child.stdin.end(o.input);
    }
    let why: 'abort' | 'timeout' | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // the group is already gone
      }
    };
    const stop = (reason: 'abort' | 'timeout') => {
      if (why) return;
      why = reason;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), grace);
      killTimer.unref();
    };
    const onAbort = () => stop('abort');
    const timer = setTimeout(() => stop('timeout'), timeoutMs);
    o.signal.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      o.signal.removeEventListener('abort', onAbort);
    };
    child.once('error', (e) => {
      cleanup();
      reject(new TaskermanError('ACTION_FAILED', `cannot run ${file}: ${e.message}`, { cause: e, retryable: false }));
    });
    child.once('close', (code, sig) => {
      cleanup();
      // Whatever the leader did, leave no stragglers in its group once we gave up on it.
      if (why) killGroup('SIGKILL');
      const r: CommandResult = { argv: [...argv], code, signal: sig, stdout: out.text(), stderr: err.text(), truncated: out.truncated || err.truncated, durationMs: Date.now() - started };
      if (why === 'abort') return reject(new AbortedError(`${file} was stopped`, { cause: o.signal.reason, context: { stderr: lastLines(r.stderr) } }));
      if (why === 'timeout') return reject(new TimeoutError(`${file} did not finish within ${timeoutMs} ms (killed)`, { context: { stderr: lastLines(r.stderr) } }));
      resolve(r);
    });
  });
}

/** The last few lines of an output, joined on one line (for error messages and records). */
export function lastLines(text: string, n = 3): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

/** How a command ended, in words: "exit code 2" or "killed by SIGKILL". */
export function describeExit(r: Pick<CommandResult, 'code' | 'signal'>): string {
  return r.code === null ? `killed by ${r.signal ?? 'a signal'}` : `exit code ${r.code}`;
}

/**
 * Runs argv and returns its result when it exits 0; otherwise throws `code` (CHECK_FAILED for a check,
 * ACTION_FAILED for a change) with the command, how it ended and the tail of its stderr.
 */
export async function runChecked(argv: readonly string[], o: CommandOptions & { errorCode?: 'ACTION_FAILED' | 'CHECK_FAILED' }): Promise<CommandResult> {
  const r = await runCommand(argv, o);
  if (r.code !== 0) {
    const tail = lastLines(r.stderr || r.stdout);
    throw new TaskermanError(o.errorCode ?? 'ACTION_FAILED', `${argv.join(' ')}: ${describeExit(r)}${tail ? `: ${tail}` : ''}`, { context: { argv: r.argv, code: r.code } });
  }
  return r;
}
