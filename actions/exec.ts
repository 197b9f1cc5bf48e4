// `exec`: runs a command that the runner's own config allows, by name. The task only picks a name (and,
// where the entry allows it, extra arguments); the command line itself comes from the node's local
// allowlist. It is spawned as an argv array with no shell, in its own process group so that a timeout
// or a cancellation kills the whole tree.
import { spawn } from 'node:child_process';
import { z } from 'zod';
import { AbortedError, TaskermanError } from '../core/errors.js';
import { defineAction, type ActionContext } from './action.js';

export const execCommandSchema = z.strictObject({
  argv: z.array(z.string().min(1)).min(1, 'must name the program and its arguments, like ["systemctl", "restart", "cassandra"]'),
  pre_check: z.array(z.string().min(1)).min(1).optional(),
  post_check: z.array(z.string().min(1)).min(1).optional(),
  /** May a task append its own arguments to argv? Off by default. */
  allow_args: z.boolean().default(false),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).default({}),
});
export type ExecCommand = z.infer<typeof execCommandSchema>;
export const execAllowlistSchema = z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, 'command names are letters, digits, ".", "_" or "-"'), execCommandSchema);
export type ExecAllowlist = z.infer<typeof execAllowlistSchema>;

export const execArgs = z.strictObject({
  command: z.string({ error: 'must name a command from the runner allowlist' }).min(1),
  args: z.array(z.string()).max(64).default([]),
});
type ExecArgs = z.infer<typeof execArgs>;

/** Grace between SIGTERM and SIGKILL of the process group. */
const KILL_GRACE_MS = 5000;
const OUTPUT_TAIL = 2000;

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs argv with no shell in a new process group; kills the group when `signal` aborts. */
export function runArgv(argv: string[], opts: { signal: AbortSignal; cwd?: string; env?: Record<string, string>; onLine?: (line: string) => void }): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const [file, ...rest] = argv as [string, ...string[]];
    if (opts.signal.aborted) return reject(new AbortedError(`not started: ${file}`, { cause: opts.signal.reason }));
    const child = spawn(file, rest, {
      shell: false,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
    });
    let tail = '';
    const collect = (chunk: Buffer) => {
      const s = chunk.toString('utf8');
      tail = (tail + s).slice(-OUTPUT_TAIL);
      if (opts.onLine) for (const line of s.split('\n')) if (line) opts.onLine(line);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        /* the group is already gone */
      }
    };
    const onAbort = () => {
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
    };
    opts.signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => {
      opts.signal.removeEventListener('abort', onAbort);
      reject(new TaskermanError('ACTION_FAILED', `cannot run ${file}: ${err.message}`, { cause: err, retryable: false }));
    });
    child.once('close', (code, sig) => {
      opts.signal.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      // Whatever the leader did, leave no stragglers in its group.
      if (opts.signal.aborted) killGroup('SIGKILL');
      resolve({ code, signal: sig, output: tail });
    });
  });
}

async function runStep(ctx: ActionContext<ExecArgs>, what: string, argv: string[], cmd: ExecCommand): Promise<void> {
  ctx.logger.info({ argv, step: what }, 'exec');
  const r = await runArgv(argv, {
    signal: ctx.signal,
    cwd: cmd.cwd,
    env: cmd.env,
    onLine: (line) => ctx.logger.debug({ step: what, line }, 'output'),
  });
  if (ctx.signal.aborted) throw new AbortedError(`${what} ${argv[0]} was stopped`, { cause: ctx.signal.reason });
  if (r.code !== 0) {
    const how = r.code === null ? `killed by ${r.signal}` : `exit code ${r.code}`;
    throw new TaskermanError(what === 'execute' ? 'ACTION_FAILED' : 'CHECK_FAILED', `${what}: ${argv.join(' ')}: ${how}${r.output ? `: ${r.output.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
  }
}

export function createExecAction(allowlist: ExecAllowlist) {
  const lookup = (ctx: ActionContext<ExecArgs>): ExecCommand => {
    const cmd = allowlist[ctx.args.command];
    if (!cmd) {
      throw new TaskermanError('NOT_ALLOWED', `command "${ctx.args.command}" is not in this runner's exec allowlist`, {
        retryable: false,
        hint: `allowed here: ${Object.keys(allowlist).join(', ') || '(none)'}; add it under exec.commands in the runner --config`,
      });
    }
    if (ctx.args.args.length > 0 && !cmd.allow_args) {
      throw new TaskermanError('NOT_ALLOWED', `command "${ctx.args.command}" does not take extra arguments`, { retryable: false, hint: 'set allow_args: true for it in the runner --config' });
    }
    return cmd;
  };
  return defineAction<ExecArgs>({
    name: 'exec',
    version: 1,
    description: "Runs a command from the runner's local allowlist (argv, no shell), with optional pre/post check commands.",
    args: execArgs,
    async preCheck(ctx) {
      const cmd = lookup(ctx);
      if (cmd.pre_check) await runStep(ctx, 'pre_check', cmd.pre_check, cmd);
    },
    async execute(ctx) {
      const cmd = lookup(ctx);
      await runStep(ctx, 'execute', [...cmd.argv, ...ctx.args.args], cmd);
    },
    async postCheck(ctx) {
      const cmd = lookup(ctx);
      if (cmd.post_check) await runStep(ctx, 'post_check', cmd.post_check, cmd);
    },
  });
}
