// `exec` as `taskerman dev` runs it when no runner --config is given: the simulated nodes have no allowlist
// and none of its commands, so each step says what the real runner would look up and waits `seconds` instead.
// The task, its arguments and the rollout (limit, retries, breaker) are the real ones.
import { defineAction } from '../actions/action.js';
import { execArgs } from '../actions/exec.js';
import { abortableSleep } from '../actions/sleep.js';

export function simulatedExecAction(seconds: number) {
  return defineAction({
    name: 'exec',
    version: 1,
    description: 'exec, simulated by `taskerman dev`: logs the allowlist entry a runner would run, and waits.',
    args: execArgs,
    async execute(ctx) {
      ctx.logger.info({ command: ctx.args.command, args: ctx.args.args }, 'simulated exec: a real runner runs this entry of its --config allowlist');
      await abortableSleep(seconds * 1000, ctx.signal);
    },
  });
}
