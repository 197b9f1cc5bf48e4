// The actions as `taskerman dev` runs them when no runner --config is given: the simulated nodes have no exec
// allowlist, no systemd units, no datastores, so every action but `noop` and `sleep` keeps its real name,
// version and argument schema (the router validates the task as in production) and its steps say what a real
// runner would do and wait `seconds` instead. The task, its arguments and the rollout (grants, limit,
// retries, breaker) are the real ones.
import { defineAction, type AnyAction } from '../actions/action.js';
import { builtinRegistry } from '../actions/builtin.js';
import { ActionRegistry } from '../actions/registry.js';
import { abortableSleep } from '../actions/sleep.js';

const REAL_IN_DEV = new Set(['noop', 'sleep']);

function simulated(a: AnyAction, seconds: number): AnyAction {
  return defineAction<unknown>({
    name: a.name,
    version: a.version,
    description: `${a.name}, simulated by \`taskerman dev\`: waits instead of acting`,
    args: a.args,
    async execute(ctx) {
      ctx.logger.info({ args: ctx.args }, `simulated ${a.name}: a real runner would act here (its config comes from its --config)`);
      await abortableSleep(seconds * 1000, ctx.signal);
    },
  });
}

/** Every built-in action, simulated but for noop and sleep, plus `extra` as given. */
export function simulatedRegistry(seconds: number, extra: AnyAction[] = []): ActionRegistry {
  const real = builtinRegistry();
  return new ActionRegistry([...real.names().map((n) => (REAL_IN_DEV.has(n) ? real.get(n) : simulated(real.get(n), seconds))), ...extra]);
}
