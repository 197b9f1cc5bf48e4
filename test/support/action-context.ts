// An ActionContext for driving one action's steps directly in a test: a checkpoint kept in a plain object
// (as the runner keeps it in the node record), the history the test gives, a fresh signal unless given.
import type { ActionContext, AnyAction, AttemptInfo } from '../../actions/action.js';
import { silentLogger, type Logger } from '../../core/logger.js';

export interface TestContext extends ActionContext<unknown> {
  /** The checkpoint as the runner would have stored it. */
  stored: Record<string, unknown>;
}

export function actionContext(action: AnyAction, args: unknown, o: { taskId?: string; node?: string; cluster?: string; attempt?: number; history?: AttemptInfo[]; stored?: Record<string, unknown>; signal?: AbortSignal; logger?: Logger } = {}): TestContext {
  const stored = o.stored ?? {};
  const parsed = action.args.parse(args);
  return {
    taskId: o.taskId ?? 'task-1',
    cluster: o.cluster ?? 'c',
    node: o.node ?? 'n1',
    args: parsed,
    attempt: o.attempt ?? 1,
    fencingToken: 1,
    signal: o.signal ?? new AbortController().signal,
    logger: o.logger ?? silentLogger,
    heartbeat: () => undefined,
    history: o.history ?? [],
    grant: { token: 1, grantedAt: new Date().toISOString(), taskId: o.taskId ?? 'task-1' },
    checkpoint: {
      get: <T>(key: string) => stored[key] as T | undefined,
      set: async (key: string, value: unknown) => {
        stored[key] = value;
      },
    },
    stored,
  };
}

/** pre_check, execute, post_check in order, as the runner runs them. */
export async function runSteps(action: AnyAction, ctx: ActionContext<unknown>): Promise<void> {
  await action.preCheck?.(ctx);
  await action.execute(ctx);
  await action.postCheck?.(ctx);
}
