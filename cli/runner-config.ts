// A daemon's local sections of the --config file, validated with the schemas of the actions that read them:
// the exec allowlist (`exec:`), the health `checks:` of the cluster budget's gate, `actions:` (each built-in
// action's units, endpoints, paths and credentials), `service_manager:` (how systemctl is run) and `plugins:`
// (site action modules pinned by sha256). Only the runner, the router and `dev` load this module (and with it
// every action's config schema); other commands check these sections' presence only (config.ts).
import { z } from 'zod';
import { actionsConfigSchema, type ActionsConfig } from '../actions/actions-config.js';
import { execAllowlistSchema, type ExecAllowlist } from '../actions/exec.js';
import { systemctlConfigSchema, type SystemctlConfig } from '../actions/kit/systemctl.js';
import { pluginsSchema, type PluginEntry } from '../actions/plugin-loader.js';
import { healthChecksSchema, type HealthChecks } from '../core/budget/health-check.js';
import { commonFileSchema, parseConfig, readConfigYaml, type CommonConfig } from './config.js';

/** The whole config file as a daemon reads it: the common keys, and every local section fully validated. */
export const runnerFileSchema = commonFileSchema.extend({
  exec: z.strictObject({ commands: execAllowlistSchema.default({}) }).optional(),
  checks: healthChecksSchema.optional(),
  actions: actionsConfigSchema.optional(),
  service_manager: systemctlConfigSchema.optional(),
  plugins: pluginsSchema.optional(),
});

export type RunnerFile = z.infer<typeof runnerFileSchema>;

/** The common config plus a daemon's local sections, with their defaults applied. */
export interface RunnerConfig extends CommonConfig {
  exec: ExecAllowlist;
  /** Each configured built-in action's local config (runner only). */
  actions: ActionsConfig;
  serviceManager: SystemctlConfig;
  plugins: PluginEntry[];
  /** Health checks a runner runs for its cluster's health gate (`checks:`); nothing that runs comes from ZooKeeper. */
  checks: HealthChecks;
}

/** Reads a config file with its local sections validated (the runner's view of the file). */
export function readRunnerConfigFile(path: string): RunnerFile {
  return parseConfig(runnerFileSchema, readConfigYaml(path), path);
}

/** Validates the local sections of the config file `cfg` was resolved from; a refused one names its field. */
export function resolveRunnerConfig(cfg: CommonConfig): RunnerConfig {
  const file = cfg.configFile === undefined ? {} : parseConfig(runnerFileSchema, cfg.file, cfg.configFile);
  return {
    ...cfg,
    exec: file.exec?.commands ?? {},
    actions: file.actions ?? {},
    serviceManager: file.service_manager ?? systemctlConfigSchema.parse({}),
    plugins: file.plugins ?? [],
    checks: file.checks ?? {},
  };
}
