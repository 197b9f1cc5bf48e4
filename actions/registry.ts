// The registry of actions a router accepts and a runner executes (invariant 5: only registered actions
// run, with arguments validated against their schema).
import { TaskermanError, UnknownActionError } from '../core/errors.js';
import type { AnyAction } from './action.js';

export class ActionRegistry {
  private readonly actions = new Map<string, AnyAction>();

  constructor(actions: AnyAction[] = []) {
    for (const a of actions) this.register(a);
  }

  register(action: AnyAction): this {
    if (this.actions.has(action.name)) throw new TaskermanError('INVALID_OPTION', `action "${action.name}" is registered twice`);
    this.actions.set(action.name, action);
    return this;
  }

  names(): string[] {
    return [...this.actions.keys()].sort();
  }

  has(name: string): boolean {
    return this.actions.has(name);
  }

  /** The action for a spec's name and version; throws UNKNOWN_ACTION or INVALID_ARGS (never retryable). */
  get(name: string, version?: number): AnyAction {
    const a = this.actions.get(name);
    if (!a) throw new UnknownActionError(name, this.names());
    if (version !== undefined && version !== a.version) {
      throw new TaskermanError('INVALID_ARGS', `action "${name}" is at contract version ${a.version}, the task asks for version ${version}`, {
        retryable: false,
        hint: `set version: ${a.version} in the spec after checking the action's changelog`,
      });
    }
    return a;
  }

  /** Validates arguments against the action's schema; the error names each bad argument. */
  parseArgs(action: AnyAction, args: unknown): unknown {
    const r = action.args.safeParse(args);
    if (r.success) return r.data;
    const msg = r.error.issues.map((i) => `args${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`).join('; ');
    throw new TaskermanError('INVALID_ARGS', `invalid arguments for action "${action.name}": ${msg}`, { retryable: false });
  }
}
