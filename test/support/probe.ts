// An independent probe of what actions really did: each `probe` action writes when its node entered
// pre_check and left post_check, from inside the action, so the concurrency the tests measure does not
// come from the records under test.
import { z } from 'zod';
import { defineAction, type AnyAction } from '../../actions/action.js';
import { abortableSleep } from '../../actions/sleep.js';
import { TaskermanError } from '../../core/errors.js';

export interface ProbeEvent {
  node: string;
  taskId: string;
  kind: 'start' | 'end';
  /** An end after post_check passed (the node is whole again); false when a step failed or was aborted. */
  ok?: boolean;
  at: number;
  /** Monotonic order of events, independent of the clock's resolution. */
  seq: number;
}

export class Probe {
  readonly events: ProbeEvent[] = [];
  private seq = 0;
  /** Nodes whose execute throws (per attempt number: fail while attempt <= n). */
  failUntil = new Map<string, number>();
  /** Fail an attempt where this says so (checked with failUntil). */
  failWhere: ((node: string, attempt: number) => boolean) | undefined;
  /** Nodes whose post_check fails (the node is not whole again). */
  postCheckFails = new Set<string>();
  /** Called inside execute, before sleeping: tests use it to act at a precise moment. */
  onExecute: ((node: string) => void | Promise<void>) | undefined;

  record(node: string, taskId: string, kind: 'start' | 'end', ok?: boolean): void {
    this.events.push({ node, taskId, kind, ...(ok === undefined ? {} : { ok }), at: Date.now(), seq: this.seq++ });
  }

  /**
   * The cluster-wide invariant: the largest number of distinct nodes disrupted at once, by every task together.
   * A node is disrupted from an action's start until a post_check passes on it: a failed or killed attempt
   * (a reboot) leaves it disrupted until a later attempt ends well.
   */
  maxDisrupted(filter?: (e: ProbeEvent) => boolean): number {
    const down = new Set<string>();
    let max = 0;
    for (const e of this.events) {
      if (filter && !filter(e)) continue;
      if (e.kind === 'start') down.add(e.node);
      else if (e.ok) down.delete(e.node);
      max = Math.max(max, down.size);
    }
    return max;
  }

  /** The largest number of nodes between pre_check start and post_check end at any instant. */
  maxConcurrency(taskId?: string): number {
    let cur = 0;
    let max = 0;
    const open = new Set<string>();
    for (const e of this.events) {
      if (taskId && e.taskId !== taskId) continue;
      if (e.kind === 'start') {
        open.add(e.node);
        cur++;
        max = Math.max(max, cur);
      } else if (open.delete(e.node)) {
        cur--;
      }
    }
    return max;
  }

  /** Executions (start events) per node. */
  executions(taskId?: string): Map<string, number> {
    const m = new Map<string, number>();
    for (const e of this.events) if (e.kind === 'start' && (!taskId || e.taskId === taskId)) m.set(e.node, (m.get(e.node) ?? 0) + 1);
    return m;
  }

  action(): AnyAction {
    return defineAction({
      name: 'probe',
      version: 1,
      description: 'test probe: records start/end, sleeps, fails where told',
      args: z.strictObject({ ms: z.number().min(0).default(50) }),
      preCheck: async (ctx) => {
        this.record(ctx.node, ctx.taskId, 'start');
      },
      execute: async (ctx) => {
        try {
          await this.onExecute?.(ctx.node);
          await abortableSleep(ctx.args.ms, ctx.signal);
          const failUntil = this.failUntil.get(ctx.node) ?? 0;
          if (ctx.attempt <= failUntil || this.failWhere?.(ctx.node, ctx.attempt)) throw new TaskermanError('ACTION_FAILED', `probe told to fail attempt ${ctx.attempt} on ${ctx.node}`);
        } catch (err) {
          // The step ended (failed): the node leaves its critical section here (still disrupted, not whole).
          this.record(ctx.node, ctx.taskId, 'end', false);
          throw err;
        }
      },
      postCheck: async (ctx) => {
        if (this.postCheckFails.has(ctx.node)) throw new TaskermanError('ACTION_FAILED', `probe told to fail the post_check on ${ctx.node}`);
        this.record(ctx.node, ctx.taskId, 'end', true);
      },
    });
  }
}
