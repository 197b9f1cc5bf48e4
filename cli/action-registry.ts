// The registry a daemon runs with: the built-in actions configured from the --config file, plus the site
// plugins it names (verified against their sha256 before they are imported). A runner also gives the actions
// its ports: systemctl as the config says, and what the task store knows of other tasks and nodes.
import { builtinRegistry, type BuiltinDeps } from '../actions/builtin.js';
import { systemctlFromConfig } from '../actions/kit/systemctl.js';
import { loadPlugins } from '../actions/plugin-loader.js';
import type { ActionRegistry } from '../actions/registry.js';
import { otherTasksInFlight } from '../core/task/node-activity.js';
import type { TaskStore } from '../core/task/task-store.js';
import type { Logger } from '../core/logger.js';
import type { RunnerConfig } from './runner-config.js';

/** For a router: every action's name and argument schema (the runner's local sections are not needed). */
export async function routerRegistry(cfg: RunnerConfig, logger: Logger): Promise<ActionRegistry> {
  const serviceManager = systemctlFromConfig(cfg.serviceManager);
  return builtinRegistry({ extra: await loadPlugins(cfg.plugins, { logger, serviceManager }) });
}

/** For a runner: the actions with their local config and ports (the store is opened after this, so a bad plugin refuses the start before anything connects). */
export async function runnerRegistry(cfg: RunnerConfig, logger: Logger, store: () => TaskStore, deps: BuiltinDeps = {}): Promise<ActionRegistry> {
  const serviceManager = deps.serviceManager ?? systemctlFromConfig(cfg.serviceManager);
  return builtinRegistry({
    execAllowlist: cfg.exec,
    actions: cfg.actions,
    deps: {
      serviceManager,
      nodeActivity: deps.nodeActivity ?? ((o) => otherTasksInFlight(store(), o)),
      taskNodes: deps.taskNodes ?? (async (taskId) => (await store().listNodes(taskId)).map((n) => ({ node: n.node, state: n.state }))),
    },
    extra: await loadPlugins(cfg.plugins, { logger, serviceManager }),
  });
}
