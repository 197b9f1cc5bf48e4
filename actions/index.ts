// What the `taskerman` package exports for site plugins (written in TypeScript): the action contract, the
// plugin contract, and the kit (`taskerman/kit`). See actions/README.md.
export { defineAction, type Action, type ActionContext, type AnyAction, type ActionCheckpoint, type AttemptInfo, type DeferContext, type GrantInfo, type Step } from './action.js';
export type { PluginContext, TaskermanPlugin } from './plugin.js';
