// Putting back what an action changed. Each change registers its undo right after it was made; the undos run
// in a `finally`, newest first, each with its own timeout rather than the action's signal (which has often
// aborted by then: a timeout, a cancel, a lost grant is exactly when restoring matters). An undo that fails
// is not swallowed: the step fails with a message that says what was left changed, so the operator knows
// what to put back by hand (OpenSearch operators left clusters yellow for months for want of this).
import type { Logger } from 'pino';
import { TaskermanError } from '../../core/errors.js';

export const DEFAULT_RESTORE_TIMEOUT_MS = 60_000;

export type Undo = (signal: AbortSignal) => Promise<void>;

/** Some changes could not be put back; `notRestored` says which (one phrase each). */
export class RestoreError extends TaskermanError {
  readonly notRestored: string[];
  constructor(notRestored: string[], cause?: unknown) {
    const first = cause instanceof Error ? `${cause.message}; ` : '';
    super('ACTION_FAILED', `${first}NOT RESTORED (put back by hand): ${notRestored.join('; ')}`, {
      cause,
      // The step failed first: retrying may be right. Only the restore failing alone is worth a retry too,
      // since an undo is idempotent by contract.
      retryable: cause instanceof TaskermanError ? cause.retryable : true,
      context: { not_restored: notRestored },
    });
    this.notRestored = notRestored;
  }
}

export class Restorer {
  private readonly undos: Array<{ what: string; undo: Undo }> = [];

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs = DEFAULT_RESTORE_TIMEOUT_MS,
  ) {}

  /** Registers how to undo a change just made: `what` says what would be left if the undo failed. */
  add(what: string, undo: Undo): void {
    this.undos.push({ what, undo });
  }

  get pending(): number {
    return this.undos.length;
  }

  /** Runs every registered undo, newest first, and returns what could not be restored ([] when all went back). */
  async restore(): Promise<string[]> {
    const failed: string[] = [];
    while (this.undos.length > 0) {
      const { what, undo } = this.undos.pop()!;
      try {
        await undo(AbortSignal.timeout(this.timeoutMs));
        this.logger.info({ restored: what }, 'restored');
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        this.logger.error({ not_restored: what, err: why }, 'could not restore');
        failed.push(`${what} (${why})`);
      }
    }
    return failed;
  }
}

/**
 * Runs `body` with a Restorer and restores in a finally. When something could not be restored the step
 * fails with a RestoreError naming it (wrapping the body's own error if it had one).
 */
export async function withRestore<T>(logger: Logger, body: (r: Restorer) => Promise<T>, timeoutMs = DEFAULT_RESTORE_TIMEOUT_MS): Promise<T> {
  const r = new Restorer(logger, timeoutMs);
  let result: T;
  try {
    result = await body(r);
  } catch (err) {
    const failed = await r.restore();
    if (failed.length > 0) throw new RestoreError(failed, err);
    throw err;
  }
  const failed = await r.restore();
  if (failed.length > 0) throw new RestoreError(failed);
  return result;
}
