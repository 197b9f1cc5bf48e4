// Keeps the audit trail bounded: every `intervalMs`, removes the days older than the retention. Runs in
// every router (removing a day twice is harmless: removeRecursive ignores what is gone).
import type { Coordinator } from '../coordination/coordinator.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { pruneAudit } from './audit-log.js';

export interface AuditPrunerOptions {
  coordinator: Coordinator;
  root: string;
  /** Default 90 days. */
  retentionMs?: number;
  /** Default 1 h. */
  intervalMs?: number;
  logger: Logger;
}

export class AuditPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  constructor(private readonly o: AuditPrunerOptions) {}

  async start(): Promise<void> {
    this.timer = setInterval(() => {
      this.running ??= this.prune().finally(() => (this.running = undefined));
    }, this.o.intervalMs ?? 3_600_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  async prune(): Promise<void> {
    try {
      const days = await pruneAudit(this.o.coordinator, this.o.root, this.o.retentionMs ?? 90 * 86_400_000);
      if (days.length) this.o.logger.info({ days }, 'pruned old audit entries');
    } catch (err) {
      this.o.logger.warn({ err: describeError(err) }, 'pruning the audit trail failed');
    }
  }
}
