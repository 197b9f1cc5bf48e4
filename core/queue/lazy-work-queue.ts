// A WorkQueue that builds its adapter on the first call. The SQS adapter pulls in the AWS SDK (tens of MB
// and a few hundred ms of start-up); a command or daemon that may never call SQS (status, cancel, a
// `run` that fails validation) should not pay for it. close() before the first call loads nothing.
import type { OutgoingMessage, QueueMessage, QueueSpec, QueueStats, ReceiveOptions, WorkQueue } from './work-queue.js';

export class LazyWorkQueue implements WorkQueue {
  private loading: Promise<WorkQueue> | undefined;
  private closed = false;

  constructor(private readonly load: () => Promise<WorkQueue>) {}

  /** Whether the adapter has been built (or is being built). */
  get loaded(): boolean {
    return this.loading !== undefined;
  }

  private q(): Promise<WorkQueue> {
    if (!this.loading) {
      this.loading = this.load();
      // A failed load (a missing module) is retried by the next call rather than cached.
      this.loading.catch(() => (this.loading = undefined));
    }
    return this.loading;
  }

  async ensureQueue(spec: QueueSpec): Promise<void> {
    return (await this.q()).ensureQueue(spec);
  }
  async exists(name: string): Promise<boolean> {
    return (await this.q()).exists(name);
  }
  async send(queue: string, msg: OutgoingMessage): Promise<void> {
    return (await this.q()).send(queue, msg);
  }
  async sendBatch(queue: string, msgs: OutgoingMessage[]): Promise<void> {
    return (await this.q()).sendBatch(queue, msgs);
  }
  async receive(queue: string, opts: ReceiveOptions): Promise<QueueMessage[]> {
    return (await this.q()).receive(queue, opts);
  }
  async delete(queue: string, receiptHandle: string): Promise<void> {
    return (await this.q()).delete(queue, receiptHandle);
  }
  async changeVisibility(queue: string, receiptHandle: string, seconds: number): Promise<void> {
    return (await this.q()).changeVisibility(queue, receiptHandle, seconds);
  }
  async stats(queue: string): Promise<QueueStats> {
    return (await this.q()).stats(queue);
  }
  async list(prefix: string): Promise<string[]> {
    return (await this.q()).list(prefix);
  }
  async purge(queue: string): Promise<void> {
    return (await this.q()).purge(queue);
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.loading) return;
    const q = await this.loading.catch(() => undefined);
    await q?.close();
  }
}
