// Checking a spec's action and arguments in the CLI, so a bad task is refused before anything is enqueued.
// Only the named action's module is loaded (actions/builtin-catalog.ts), not every built-in action.
import { loadBuiltinAction, BUILTIN_ACTION_NAMES } from '../actions/builtin-catalog.js';
import { ActionRegistry } from '../actions/registry.js';
import { UnknownActionError } from '../core/errors.js';
import type { TaskSpec } from '../core/task/task-spec.js';

/** Checks the action, its contract version and its arguments; throws UNKNOWN_ACTION or INVALID_ARGS. */
export async function checkAction(spec: TaskSpec): Promise<void> {
  const action = await loadBuiltinAction(spec.action);
  if (!action) throw new UnknownActionError(spec.action, [...BUILTIN_ACTION_NAMES]);
  const registry = new ActionRegistry([action]);
  registry.parseArgs(registry.get(spec.action, spec.version), spec.args);
}
