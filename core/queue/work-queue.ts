// The WorkQueue port: the only queue calls Taskerman makes. Adapters: SQS (`sqs-work-queue.ts`) and
// in-memory (`memory-work-queue.ts`); both pass `test/contract/work-queue.contract.ts`.
// Queues are addressed by name; an adapter resolves and caches whatever it needs (SQS queue URLs).

export interface QueueMessage {
  /** The backend's message id (stable across receives). */
  id: string;
  body: string;
  /** Changes on every receive; needed to delete or extend this delivery. */
  receiptHandle: string;
  /** How many times this message has been received, this delivery included. */
  receiveCount: number;
  attributes: Record<string, string>;
}

export interface QueueSpec {
  name: string;
  /** The dead-letter queue that the backend moves a message to after `maxReceiveCount` receives. */
  deadLetter: string;
  /** Backstop only: Taskerman counts attempts itself and dead-letters exhausted work explicitly. */
  maxReceiveCount: number;
  /** Default visibility timeout of the queue, in seconds. */
  visibilityTimeoutSec: number;
}

export interface OutgoingMessage {
  body: string;
  attributes?: Record<string, string>;
  /** Hide the message for this many seconds after sending (0-900). */
  delaySec?: number;
}

export interface ReceiveOptions {
  /** 1-10. */
  max: number;
  /** Long-poll for at most this long (0-20 s). */
  waitSec: number;
  /** Visibility timeout for the received messages, in seconds. */
  visibilitySec: number;
  /** Ends the long poll early (shutdown). Resolves with no messages rather than rejecting. */
  signal?: AbortSignal;
}

export interface QueueStats {
  visible: number;
  inFlight: number;
  delayed: number;
}

export interface WorkQueue {
  /** Create the queue and its dead-letter queue with a redrive policy; idempotent. */
  ensureQueue(spec: QueueSpec): Promise<void>;
  /** True when the queue exists. */
  exists(name: string): Promise<boolean>;
  send(queue: string, msg: OutgoingMessage): Promise<void>;
  /** Send many messages to one queue (batched by the adapter); rejects if any one of them failed. */
  sendBatch(queue: string, msgs: OutgoingMessage[]): Promise<void>;
  receive(queue: string, opts: ReceiveOptions): Promise<QueueMessage[]>;
  delete(queue: string, receiptHandle: string): Promise<void>;
  /** Extend (or shorten, 0 = release now) the invisibility of one delivery. */
  changeVisibility(queue: string, receiptHandle: string, seconds: number): Promise<void>;
  stats(queue: string): Promise<QueueStats>;
  /** Names of the queues whose name starts with `prefix`. */
  list(prefix: string): Promise<string[]>;
  purge(queue: string): Promise<void>;
  close(): Promise<void>;
}

/** Thrown by adapters when a named queue does not exist (a runner may start before its queues are created). */
export class QueueDoesNotExistError extends Error {
  readonly code = 'QUEUE_DOES_NOT_EXIST';
  constructor(
    readonly queue: string,
    /** What to do about it, when the caller knows better than "check the region and prefix". */
    readonly hint?: string,
  ) {
    super(`queue ${queue} does not exist`);
    this.name = 'QueueDoesNotExistError';
  }
}
