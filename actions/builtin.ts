// The built-in actions. A router needs every action's name and argument schema to validate tasks; a runner
// additionally needs its local exec allowlist, which only it knows.
import { createExecAction, type ExecAllowlist } from './exec.js';
import { noopAction } from './noop.js';
import { ActionRegistry } from './registry.js';
import { sleepAction } from './sleep.js';
import type { AnyAction } from './action.js';

export function builtinRegistry(opts: { execAllowlist?: ExecAllowlist; extra?: AnyAction[] } = {}): ActionRegistry {
  return new ActionRegistry([noopAction, sleepAction, createExecAction(opts.execAllowlist ?? {}), ...(opts.extra ?? [])]);
}
