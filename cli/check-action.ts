// Checking a spec's action and arguments in the CLI, so a bad task is refused before anything is enqueued.
import { builtinRegistry } from '../actions/builtin.js';
import type { TaskSpec } from '../core/task/task-spec.js';

/** Checks the action and its arguments here, so a bad task is refused before anything is enqueued. */
export function checkAction(spec: TaskSpec): void {
  const registry = builtinRegistry();
  registry.parseArgs(registry.get(spec.action, spec.version), spec.args);
}

