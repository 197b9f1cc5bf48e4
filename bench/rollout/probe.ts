// The probe the rollout benchmark rolls out: an action that records when each node's pre_check starts and its
// post_check ends, then sleeps in between. Times are wall-clock milliseconds with sub-millisecond precision
// (`performance.timeOrigin + performance.now()`), comparable across the benchmark's processes on one machine.
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { defineAction, type AnyAction } from '../../actions/action.js';
import { abortableSleep } from '../../actions/sleep.js';

export const PROBE_ACTION = 'bench-sleep';

export interface ProbeEvent {
  taskId: string;
  node: string;
  kind: 'start' | 'end';
  /** Wall-clock ms (see wallNow). */
  t: number;
}

/** Now, in ms since the epoch, monotonic within a process and comparable across processes of one host. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The probe action; each pre_check start and post_check end goes to `record`. */
export function probeAction(record: (e: ProbeEvent) => void): AnyAction {
  return defineAction({
    name: PROBE_ACTION,
    version: 1,
    description: 'sleep, recording pre_check start and post_check end',
    args: z.strictObject({ seconds: z.number() }),
    preCheck: async (ctx) => record({ taskId: ctx.taskId, node: ctx.node, kind: 'start', t: wallNow() }),
    execute: (ctx) => abortableSleep(ctx.args.seconds * 1000, ctx.signal),
    postCheck: async (ctx) => record({ taskId: ctx.taskId, node: ctx.node, kind: 'end', t: wallNow() }),
  });
}
