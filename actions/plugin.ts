// The site plugin contract. A plugin is an ES module on the node's disk, named in the runner's --config and
// pinned by its sha256; its default export is a `TaskermanPlugin` whose `actions()` builds its actions from
// the plugin's own config section. Everything it needs at run time comes in the context (the kit, zod, the
// service manager), so the module itself only imports types and has no dependency to install:
//
//   import type { TaskermanPlugin } from 'taskerman';
//   const plugin: TaskermanPlugin = { name: 'acme', actions: ({ z, kit, config }) => [ ... ] };
//   export default plugin;
import type { Logger } from 'pino';
import type { z as zod } from 'zod';
import type { AnyAction } from './action.js';
import type * as kit from './kit/index.js';
import type { ServiceManager } from './kit/service-manager.js';

export interface PluginContext {
  /** The plugin's `config` from the runner config (validate it with `z`; throw to refuse to start). */
  config: unknown;
  logger: Logger;
  serviceManager: ServiceManager;
  /** The action kit (actions/kit): commands, polling, TCP/HTTP, restore, publish. */
  kit: typeof kit;
  /** zod, for the actions' argument schemas. */
  z: typeof zod;
  /** defineAction, to type an action's arguments. */
  defineAction: <A>(a: import('./action.js').Action<A>) => AnyAction;
}

export interface TaskermanPlugin {
  /** For logs and errors. */
  name: string;
  /** Action names should carry a site prefix ("acme:cache-flush"); a clash with a built-in refuses the start. */
  actions(ctx: PluginContext): AnyAction[] | Promise<AnyAction[]>;
}
