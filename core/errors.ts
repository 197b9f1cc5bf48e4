// Error classes for the whole project. Every error has a stable `code`, an optional `hint` that tells the
// operator what to do, and a `cause`. `cli/handle-error.ts` is the one place that maps them to exit codes.

export type ErrorCode =
  | 'INVALID_SPEC'
  | 'INVALID_OPTION'
  | 'INVALID_MESSAGE'
  | 'UNKNOWN_ACTION'
  | 'INVALID_ARGS'
  | 'BACKEND_UNAVAILABLE'
  | 'SQS_ERROR'
  | 'ZK_ERROR'
  | 'NOT_FOUND'
  | 'SESSION_LOST'
  | 'ACTION_FAILED'
  | 'CHECK_FAILED'
  | 'TIMEOUT'
  | 'ABORTED'
  | 'NOT_ALLOWED'
  | 'NO_TARGETS'
  | 'DISCOVERY_FAILED'
  | 'TASK_CHANGED'
  | 'GRANT_LOST'
  | 'BUDGET_REFUSED'
  | 'QUEUE_MISSING'
  | 'INTERRUPTED'
  | 'TASK_TOO_LARGE'
  | 'DEFERRED';

export interface ErrorOptions {
  cause?: unknown;
  hint?: string;
  /** When false the runner does not retry the attempt (bad arguments, a refused command, ...). */
  retryable?: boolean;
  context?: Record<string, unknown>;
}

export class TaskermanError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly retryable: boolean;
  readonly context: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = opts.hint;
    this.retryable = opts.retryable ?? true;
    this.context = opts.context ?? {};
  }
}

/** One problem in a spec or an option: where (`file`, `field`) and what is wrong. */
export interface Issue {
  file?: string;
  field: string;
  message: string;
}

export function formatIssue(i: Issue): string {
  return `${i.file ? `${i.file}: ` : ''}${i.field ? `${i.field}: ` : ''}${i.message}`;
}

/** A task spec (file, CLI flags or message) that does not validate. Lists every problem. */
export class SpecError extends TaskermanError {
  readonly issues: Issue[];
  constructor(issues: Issue[], opts: ErrorOptions = {}) {
    super('INVALID_SPEC', issues.map(formatIssue).join('\n'), { retryable: false, ...opts });
    this.issues = issues;
  }
}

/** A command-line or config option that does not validate. */
export class OptionError extends TaskermanError {
  constructor(field: string, message: string, opts: ErrorOptions = {}) {
    super('INVALID_OPTION', `${field}: ${message}`, { retryable: false, ...opts });
  }
}

/** A queue message that is not a valid task or work item. Never retried: it goes to the dead-letter queue. */
export class MessageError extends TaskermanError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super('INVALID_MESSAGE', message, { retryable: false, ...opts });
  }
}

export class UnknownActionError extends TaskermanError {
  constructor(action: string, known: string[]) {
    super('UNKNOWN_ACTION', `unknown action "${action}"`, {
      retryable: false,
      hint: `registered actions: ${known.join(', ') || '(none)'}`,
      context: { action },
    });
  }
}

/** ZooKeeper or SQS cannot be reached (exit code 3). */
export class BackendError extends TaskermanError {
  readonly backend: 'zookeeper' | 'sqs' | 'ec2';
  constructor(backend: 'zookeeper' | 'sqs' | 'ec2', message: string, opts: ErrorOptions = {}) {
    super('BACKEND_UNAVAILABLE', message, opts);
    this.backend = backend;
  }
}

/** An SQS call failed; carries the AWS error name and HTTP status. */
export class SqsError extends TaskermanError {
  readonly awsCode: string | undefined;
  readonly status: number | undefined;
  constructor(operation: string, queue: string, cause: unknown) {
    const c = cause as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } } | undefined;
    super('SQS_ERROR', `SQS ${operation} on ${queue} failed: ${c?.name ?? 'Error'}: ${c?.message ?? String(cause)}`, {
      cause,
      context: { operation, queue },
    });
    this.awsCode = c?.name;
    this.status = c?.$metadata?.httpStatusCode;
  }
}

export class NotFoundError extends TaskermanError {
  constructor(what: string, opts: ErrorOptions = {}) {
    super('NOT_FOUND', `${what} not found`, { retryable: false, ...opts });
  }
}

/**
 * A queue the command needs does not exist: a wrong --region or --queue-prefix, a misspelt cluster, or the
 * terraform not applied yet. Names the queue, region and prefix, and what to do.
 */
export class QueueMissingError extends TaskermanError {
  constructor(
    readonly queue: string,
    readonly region: string,
    readonly prefix: string,
    opts: ErrorOptions = {},
  ) {
    super('QUEUE_MISSING', `queue ${queue} does not exist in region ${region} (queue prefix "${prefix}")`, {
      retryable: false,
      hint: 'check --region / AWS_REGION and --queue-prefix / TASKERMAN_QUEUE_PREFIX, or apply terraform/ to create the global queues',
      ...opts,
      context: { queue, region, prefix, ...opts.context },
    });
  }
}

/** The user stopped a command that was following a task (Ctrl-C); the task itself goes on. */
export class InterruptedError extends TaskermanError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super('INTERRUPTED', message, { retryable: false, ...opts });
  }
}

/** The ZooKeeper session was suspended or lost: any slot held through it must be treated as gone. */
export class SessionLostError extends TaskermanError {
  constructor(message = 'ZooKeeper session lost', opts: ErrorOptions = {}) {
    super('SESSION_LOST', message, opts);
  }
}

/** The node's grant was released (by an operator, or a router after the node left the cluster) under an action. */
export class GrantLostError extends TaskermanError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super('GRANT_LOST', message, opts);
  }
}

/** `hold --now` (or any request that must not wait) could not be granted now; says why. */
export class BudgetRefusedError extends TaskermanError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super('BUDGET_REFUSED', message, { retryable: false, ...opts });
  }
}

export class TimeoutError extends TaskermanError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super('TIMEOUT', message, opts);
  }
}

export class AbortedError extends TaskermanError {
  constructor(message: string, opts: ErrorOptions = {}) {
    super('ABORTED', message, opts);
  }
}

/**
 * Thrown by an action's preCheck (never later: nothing may have changed yet) to say "not now, others first":
 * the leader or controller of a cluster defers while other nodes of its task still wait. The runner gives the
 * grant back, puts the node back to WAITING with the reason, does not count the attempt, and asks again
 * after `retryAfterMs`, behind the nodes that were already waiting.
 */
export class DeferredError extends TaskermanError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, opts: ErrorOptions = {}) {
    super('DEFERRED', message, opts);
    this.retryAfterMs = retryAfterMs;
  }
}

/** Render anything thrown as one line, for records, logs and dead-letter reasons. */
export function describeError(err: unknown): string {
  if (err instanceof TaskermanError) return `${err.code}: ${err.message}`;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

export function errorCode(err: unknown): string {
  return err instanceof TaskermanError ? err.code : 'ERROR';
}
