// The one place that turns an error into an exit code and what the user reads: one line on stderr per
// problem (never a stack trace unless TASKERMAN_DEBUG=1), and under --json also a JSON object on stdout.
// The exit codes are the README's table; `run --wait`, `submit --wait` and `status --watch` use the same.
import { CommanderError } from 'commander';
import { CoordinatorError } from '../core/coordination/coordinator.js';
import { BackendError, formatIssue, SpecError, SqsError, TaskermanError, type Issue } from '../core/errors.js';
import { QueueDoesNotExistError } from '../core/queue/work-queue.js';
import { QueueMissingError } from '../core/errors.js';

/**
 * 0 success · 1 the task did not succeed (failed, halted, cancelled), or a task / dead letter was not found ·
 * 2 bad usage, an invalid spec or option · 3 ZooKeeper, SQS or EC2 unreachable, refusing, or not set up
 * (a missing queue) · 130 interrupted (Ctrl-C while following a task; the task goes on).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, backend: 3, interrupted: 130 } as const;

/** Thrown by a command to end with a given exit code after it printed what it had to say. */
export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
    /** A stable code for scripts (the `error.code` of --json output). */
    readonly code = exitCode === EXIT.failed ? 'TASK_FAILED' : exitCode === EXIT.usage ? 'INVALID_OPTION' : exitCode === EXIT.interrupted ? 'INTERRUPTED' : 'ERROR',
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

/** Where a command was pointed, to say it in messages about a missing queue or an unreachable ZooKeeper. */
export interface ErrorWhere {
  zk?: string;
  region?: string;
  queuePrefix?: string;
}

const USAGE_CODES = new Set(['INVALID_SPEC', 'INVALID_OPTION', 'INVALID_ARGS', 'UNKNOWN_ACTION', 'INVALID_MESSAGE']);
const BACKEND_CODES = new Set(['BACKEND_UNAVAILABLE', 'SQS_ERROR', 'QUEUE_MISSING', 'SESSION_LOST']);
const ZK_DOWN = new Set<CoordinatorError['code']>(['CONNECTION_LOSS', 'SESSION_EXPIRED', 'CLOSED']);

/** AWS SDK errors that say the credentials or the permissions are wrong, with what to do. */
const AWS_HINTS: Record<string, string> = {
  AccessDenied: 'the caller lacks an SQS permission: see the IAM policies in terraform/',
  AccessDeniedException: 'the caller lacks an SQS permission: see the IAM policies in terraform/',
  InvalidClientTokenId: 'the AWS access key is not valid: check AWS_ACCESS_KEY_ID / AWS_PROFILE',
  UnrecognizedClientException: 'the AWS access key is not valid: check AWS_ACCESS_KEY_ID / AWS_PROFILE',
  SignatureDoesNotMatch: 'the AWS secret key does not match: check AWS_SECRET_ACCESS_KEY',
  ExpiredToken: 'the AWS session token expired: refresh your credentials',
  CredentialsProviderError: 'no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or run with an instance role',
};

/** An error from the AWS SDK that no adapter wrapped (credentials resolution, mostly). */
function awsName(err: unknown): string | undefined {
  const e = err as { name?: unknown; $metadata?: unknown } | undefined;
  if (!(err instanceof Error) || typeof e?.name !== 'string') return undefined;
  if (e.$metadata !== undefined || e.name in AWS_HINTS) return e.name;
  return undefined;
}

/**
 * Gives errors that carry no context of their own the context of the command (region, queue prefix,
 * ZooKeeper): called where a command's backends are open (`withBackends`), so the messages can name them.
 */
export function inContext(err: unknown, where: ErrorWhere): unknown {
  if (err instanceof QueueDoesNotExistError) {
    return new QueueMissingError(err.queue, where.region ?? 'us-east-1', where.queuePrefix ?? 'taskerman', { cause: err, ...(err.hint ? { hint: err.hint } : {}) });
  }
  if (err instanceof CoordinatorError && ZK_DOWN.has(err.code)) {
    return new BackendError('zookeeper', `lost ZooKeeper${where.zk ? ` at ${where.zk}` : ''} (${err.code.toLowerCase().replace('_', ' ')})`, {
      cause: err,
      hint: 'is the ensemble up? check --zk / TASKERMAN_ZK',
    });
  }
  return err;
}

/** What the user is told about an error: its exit code, a stable code, one-line message, hint, problems. */
export interface ErrorReport {
  exit: number;
  code: string;
  message: string;
  hint: string | undefined;
  /** Every problem of an invalid spec or config, one line each. */
  problems: Issue[];
}

export function describeFailure(raw: unknown): ErrorReport {
  const err = inContext(raw, {});
  const oneLine = (s: string) => s.replace(/\s*\n\s*/g, '; ');
  if (err instanceof ExitError) return { exit: err.exitCode, code: err.code, message: err.message.replace(/^taskerman: /, ''), hint: undefined, problems: [] };
  if (err instanceof SpecError) {
    return { exit: EXIT.usage, code: err.code, message: `invalid spec: ${err.issues.length} problem${err.issues.length > 1 ? 's' : ''}`, hint: err.hint, problems: err.issues };
  }
  if (err instanceof SqsError) {
    const hint = (err.awsCode && AWS_HINTS[err.awsCode]) ?? err.hint;
    return { exit: EXIT.backend, code: err.code, message: oneLine(err.message), hint, problems: [] };
  }
  if (err instanceof TaskermanError) {
    const exit = USAGE_CODES.has(err.code) ? EXIT.usage : BACKEND_CODES.has(err.code) || err instanceof BackendError ? EXIT.backend : err.code === 'INTERRUPTED' ? EXIT.interrupted : EXIT.failed;
    return { exit, code: err.code, message: oneLine(err.message), hint: err.hint, problems: [] };
  }
  const aws = awsName(err);
  if (aws !== undefined) {
    return { exit: EXIT.backend, code: 'AWS_ERROR', message: `AWS refused the call: ${aws}: ${oneLine((err as Error).message)}`, hint: AWS_HINTS[aws], problems: [] };
  }
  if (err instanceof CoordinatorError) {
    return { exit: EXIT.failed, code: 'ZK_ERROR', message: `ZooKeeper: ${oneLine(err.message)}`, hint: undefined, problems: [] };
  }
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('commander.')) return { exit: EXIT.usage, code: 'USAGE', message: oneLine((err as Error).message), hint: undefined, problems: [] };
  const message = err instanceof Error ? `internal error: ${err.name}: ${oneLine(err.message)}` : oneLine(String(err));
  return { exit: EXIT.failed, code: 'INTERNAL', message, hint: err instanceof Error ? 'a bug: set TASKERMAN_DEBUG=1 for the stack trace and report it' : undefined, problems: [] };
}

export function exitCodeFor(err: unknown): number {
  return describeFailure(err).exit;
}

/** What goes to stderr: one line, or one line per problem of an invalid spec. Empty for a silent ExitError. */
export function formatError(err: unknown): string {
  const r = describeFailure(err);
  if (err instanceof ExitError) return err.message;
  if (r.problems.length) return r.problems.map(formatIssue).join('\n');
  const lines = [`taskerman: ${r.message}${r.hint ? ` (${r.hint})` : ''}`];
  if (process.env.TASKERMAN_DEBUG === '1' && err instanceof Error && err.stack) lines.push(err.stack);
  return lines.join('\n');
}

/** The error object printed on stdout under --json (same exit code as without). */
export function errorJson(err: unknown): { error: { code: string; message: string; hint: string | null; exit_code: number; problems: Array<{ file: string | null; field: string; message: string }> } } {
  const r = describeFailure(err);
  return {
    error: {
      code: r.code,
      message: r.message,
      hint: r.hint ?? null,
      exit_code: r.exit,
      problems: r.problems.map((p) => ({ file: p.file ?? null, field: p.field, message: p.message })),
    },
  };
}

export const EXIT_CODES_HELP =
  '\nExit codes: 0 success · 1 the task did not succeed (failed, halted, cancelled) or was not found · 2 bad usage or an invalid spec · 3 ZooKeeper, SQS or EC2 unreachable, refusing, or a queue missing · 130 interrupted.\nUnder --json an error is also printed on stdout as {"error": {"code", "message", "hint", "exit_code", "problems"}}.';

/** True when the command line asks for JSON (before any `--`). */
function wantsJson(args: string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).includes('--json');
}

/**
 * The end of every command that failed: prints what the user must read and returns the exit code. `args` are
 * the command-line arguments (after `node taskerman`), to know whether JSON was asked for.
 */
export function reportFailure(err: unknown, args: string[], io: { stdout: (s: string) => void; stderr: (s: string) => void } = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) }): number {
  const json = wantsJson(args);
  if (err instanceof CommanderError) {
    // Commander already printed its message (or the help / version).
    if (err.exitCode === 0) return EXIT.ok;
    if (json) io.stdout(`${JSON.stringify(errorJson(err))}\n`);
    return EXIT.usage;
  }
  const msg = formatError(err);
  if (msg) io.stderr(`${msg}\n`);
  // A command that ends with ExitError has printed its own output (e.g. the final status of a failed task).
  if (json && !(err instanceof ExitError)) io.stdout(`${JSON.stringify(errorJson(err))}\n`);
  return exitCodeFor(err);
}
