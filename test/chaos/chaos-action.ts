// `chaos-sleep`: the action of every chaos rollout. pre_check appends a `start` line to the probe file,
// execute appends `exec`, sleeps `ms` plus up to `jitterMs` (honouring the abort signal) and throws on the
// nodes told to fail, post_check appends `end`. An execute that throws appends `end` with ok=false: the
// node left its critical section there (the runner retries it or gives it up). The probe is written from
// inside the action, so the concurrency the driver measures does not come from the records under test.
import { z } from 'zod';
import { defineAction, type AnyAction } from '../../actions/action.js';
import { abortableSleep } from '../../actions/sleep.js';
import { describeError, TaskermanError } from '../../core/errors.js';
import { appendProbe, type ActionLine } from './probe-file.js';

export const CHAOS_ACTION = 'chaos-sleep';

export interface ChaosActionOptions {
  probeFile: string;
  /** Nodes whose execute fails on every attempt. */
  failNodes: ReadonlySet<string>;
  random?: () => number;
}

export function chaosSleepAction(o: ChaosActionOptions): AnyAction {
  const random = o.random ?? Math.random;
  const write = (ctx: { node: string; taskId: string; attempt: number }, kind: ActionLine['kind'], extra: Partial<ActionLine> = {}) =>
    appendProbe(o.probeFile, { kind, task: ctx.taskId, node: ctx.node, attempt: ctx.attempt, t: Date.now(), pid: process.pid, ...extra });
  return defineAction({
    name: CHAOS_ACTION,
    version: 1,
    description: 'chaos test: records start/exec/end in a probe file, sleeps with jitter, fails on the nodes it is told to',
    args: z.strictObject({ ms: z.number().min(0).default(300), jitterMs: z.number().min(0).default(200) }),
    preCheck: async (ctx) => {
      write(ctx, 'start');
    },
    execute: async (ctx) => {
      write(ctx, 'exec');
      try {
        await abortableSleep(ctx.args.ms + Math.floor(random() * ctx.args.jitterMs), ctx.signal);
        if (o.failNodes.has(ctx.node)) throw new TaskermanError('ACTION_FAILED', `chaos: ${ctx.node} is told to fail (attempt ${ctx.attempt})`);
      } catch (err) {
        write(ctx, 'end', { ok: false, aborted: ctx.signal.aborted, error: describeError(err).slice(0, 300) });
        throw err;
      }
    },
    postCheck: async (ctx) => {
      write(ctx, 'end', { ok: true });
    },
  });
}
