// Recording an operator command in the audit trail (core/audit/audit-log.ts) from the CLI: who (the
// on-call user), from where (this host), what, and how it ended. A command that has ZooKeeper open passes
// its session; one that has not (`run` without --wait talks to SQS only) opens one for the record, while its
// action runs (`openForAudit`). If the trail cannot be written the command's own result stands, and a warning
// says so on stderr.
import { recordAudit, type AuditInput } from '../core/audit/audit-log.js';
import type { Coordinator } from '../core/coordination/coordinator.js';
import { describeError } from '../core/errors.js';
import { currentUser } from '../core/task/emit.js';
import { connectZk } from './backends.js';
import type { CommandContext } from './command-context.js';

export type AuditWhat = Omit<AuditInput, 'user' | 'outcome' | 'error'>;

/**
 * Where the record goes: the command's session, open or still connecting (left open either way), or a session
 * being opened for the record alone (closed once the record is written).
 */
export type AuditTarget = Coordinator | Promise<Coordinator> | { opening: Promise<Coordinator> };

/**
 * Starts opening a ZooKeeper session for the audit record, so that the connect overlaps the command's action;
 * hand it to `audited`, which closes it. A failed connect becomes the audit warning, never the command's error.
 */
export function openForAudit(ctx: CommandContext): { opening: Promise<Coordinator> } {
  const opening = connectZk(ctx.cfg, ctx.logger);
  // Awaited (and reported) by writeAudit; until then a failure must not count as an unhandled rejection.
  opening.catch(() => undefined);
  return { opening };
}

export async function writeAudit(ctx: CommandContext, what: AuditWhat, outcome: { error?: unknown }, target?: AuditTarget): Promise<void> {
  const input: AuditInput = { ...what, user: currentUser(), outcome: outcome.error === undefined ? 'ok' : 'failed', ...(outcome.error !== undefined ? { error: describeError(outcome.error) } : {}) };
  let own: Coordinator | undefined;
  try {
    const c = target === undefined ? (own = await connectZk(ctx.cfg, ctx.logger)) : 'opening' in target ? (own = await target.opening) : await target;
    await recordAudit(c, ctx.cfg.zkRoot, input);
  } catch (err) {
    ctx.err(`taskerman: warning: the audit trail could not record this ${what.command}: ${describeError(err)}`);
  } finally {
    await own?.close().catch(() => undefined);
  }
}

/**
 * Runs an operator action and records it, ok or failed. `what` may be completed by the action (a task id
 * known only once it is emitted). The action's error, if any, is rethrown after the record.
 */
export async function audited<T>(ctx: CommandContext, what: AuditWhat, act: (what: AuditWhat) => Promise<T>, coordinator?: AuditTarget): Promise<T> {
  try {
    const r = await act(what);
    await writeAudit(ctx, what, {}, coordinator);
    return r;
  } catch (err) {
    await writeAudit(ctx, what, { error: err }, coordinator);
    throw err;
  }
}

/**
 * `audited` for a command that goes on after its action (`run --wait` follows the task it emitted): the
 * record of a success is written while the command goes on, and `recorded` settles once it is written or its
 * failure warned about (it never rejects). The command must await `recorded` before it ends, however it ends.
 * A failed action is recorded before its error is rethrown, as by `audited`.
 */
export async function auditedInBackground<T>(ctx: CommandContext, what: AuditWhat, act: (what: AuditWhat) => Promise<T>, coordinator?: Coordinator | Promise<Coordinator>): Promise<{ value: T; recorded: Promise<void> }> {
  let value: T;
  try {
    value = await act(what);
  } catch (err) {
    await writeAudit(ctx, what, { error: err }, coordinator);
    throw err;
  }
  return { value, recorded: writeAudit(ctx, what, {}, coordinator) };
}
