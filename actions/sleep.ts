// `sleep`: holds its slot for `seconds`. The rolling-restart stand-in of the demo, the tests and the benchmarks.
import { z } from 'zod';
import { AbortedError } from '../core/errors.js';
import { defineAction } from './action.js';

export const sleepArgs = z.strictObject({
  seconds: z.coerce.number({ error: 'must be a number of seconds' }).min(0, 'must be 0 or more').max(86_400, 'must be at most 86400 (one day)').default(1),
});

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new AbortedError('sleep aborted', { cause: signal.reason }));
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new AbortedError('sleep aborted', { cause: signal.reason }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const sleepAction = defineAction({
  name: 'sleep',
  version: 1,
  description: 'Sleeps for `seconds` while holding a slot (a stand-in for a restart).',
  args: sleepArgs,
  async execute(ctx) {
    await abortableSleep(ctx.args.seconds * 1000, ctx.signal);
  },
});
