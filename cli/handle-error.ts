// The one place that turns an error into an exit code and one clear line on stderr.
//   0 success · 1 the task failed (with --wait) or a thing was not found · 2 bad usage or an invalid spec ·
//   3 a backend (ZooKeeper, SQS, EC2) unreachable
import { BackendError, SpecError, TaskermanError } from '../core/errors.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, backend: 3 } as const;

/** Thrown by a command to end with a given exit code after it printed what it had to say. */
export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message = '',
  ) {
    super(message);
    this.name = 'ExitError';
  }
}

const USAGE_CODES = new Set(['INVALID_SPEC', 'INVALID_OPTION', 'INVALID_ARGS', 'UNKNOWN_ACTION', 'INVALID_MESSAGE']);

export function exitCodeFor(err: unknown): number {
  if (err instanceof ExitError) return err.exitCode;
  if (err instanceof BackendError) return EXIT.backend;
  if (err instanceof TaskermanError && USAGE_CODES.has(err.code)) return EXIT.usage;
  if (err instanceof TaskermanError) return EXIT.failed;
  const code = (err as { code?: string } | undefined)?.code;
  if (typeof code === 'string' && code.startsWith('commander.')) return EXIT.usage;
  return EXIT.failed;
}

export function formatError(err: unknown): string {
  if (err instanceof ExitError) return err.message;
  if (err instanceof SpecError) return `taskerman: invalid spec:\n${err.issues.map((i) => `  ${i.file ? `${i.file}: ` : ''}${i.field}: ${i.message}`).join('\n')}`;
  if (err instanceof TaskermanError) return `taskerman: ${err.message}${err.hint ? ` (${err.hint})` : ''}`;
  if (err instanceof Error) return `taskerman: unexpected error: ${err.stack ?? err.message}`;
  return `taskerman: ${String(err)}`;
}
