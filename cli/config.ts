// Common options, in one place: flags > environment > --config file > defaults. The config file (YAML) has
// the same keys as the long options in snake_case (zk, zk_root, region, sqs_endpoint, queue_prefix,
// log_level), plus a runner's identity (`cluster`, `node`, `zone`) and its local sections: the exec allowlist
// (`exec:`), the health checks of the cluster budget's gate (`checks:`), `actions` (each built-in action's
// units, endpoints, paths and credentials), `service_manager` (how systemctl is run) and `plugins` (site action
// modules pinned by sha256). Unknown keys are refused everywhere, with the field named. The local sections'
// schemas are those of the actions, so they are validated by the daemons that use them (runner-config.ts)
// and not loaded by every command that only needs to know where ZooKeeper is.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { z } from 'zod';
import { didYouMean } from '../core/did-you-mean.js';
import { OptionError, SpecError } from '../core/errors.js';
import { LOG_LEVELS } from '../core/logger.js';
import { validatePrefix } from '../core/queue/queue-names.js';
import { validateZkRoot } from '../core/coordination/zk-paths.js';
import { parseYaml } from '../core/yaml.js';

export interface CommonConfig {
  zk: string;
  zkRoot: string;
  region: string;
  sqsEndpoint: string | undefined;
  queuePrefix: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** The --config file, if one was given (for messages about its sections). */
  configFile: string | undefined;
  /** The whole config file, for command-specific keys; a runner's local sections are validated by runner-config.ts. */
  file: Record<string, unknown>;
}

/** A zone (rack, availability zone) as the cluster budget's zone_budget counts it. */
export const ZONE_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
const ZONE_RULE = 'must be a zone name of letters, digits, ".", "_", ":" or "-", like eu-west-1a';

/** Validates a --zone flag. */
export function validateZone(zone: string, field = 'zone'): string {
  if (!ZONE_RE.test(zone)) throw new OptionError(field, `"${zone}" ${ZONE_RULE}`);
  return zone;
}

/** The sections only a daemon reads (runner-config.ts validates them with the actions' own schemas). */
export const LOCAL_SECTIONS = ['exec', 'checks', 'actions', 'service_manager', 'plugins'] as const;

/**
 * Every key a config file may hold: the common options, a runner's identity (`cluster`, `node`, `zone`), and
 * its local sections (only their presence here). Unknown keys are refused (with the closest known one), as in
 * specs: a typo like `zk_rot` must not silently mean "the default root".
 */
export const commonFileSchema = z.strictObject({
  zk: z.string().optional(),
  zk_root: z.string().optional(),
  region: z.string().optional(),
  sqs_endpoint: z.string().optional(),
  queue_prefix: z.string().optional(),
  log_level: z.enum(LOG_LEVELS).optional(),
  cluster: z.string().optional(),
  node: z.string().optional(),
  exec: z.unknown().optional(),
  zone: z.string().regex(ZONE_RE, ZONE_RULE).optional(),
  checks: z.unknown().optional(),
  actions: z.unknown().optional(),
  service_manager: z.unknown().optional(),
  plugins: z.unknown().optional(),
});
export const CONFIG_KEYS = Object.keys(commonFileSchema.shape);

/** Adds the common options to a command (each command lists them in its own --help). */
export function withCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--zk <hosts>', 'ZooKeeper connection string, e.g. zk1:2181,zk2:2181 (default 127.0.0.1:2181)').env('TASKERMAN_ZK'))
    .addOption(new Option('--zk-root <path>', 'ZooKeeper root of this Taskerman (default /taskerman)').env('TASKERMAN_ZK_ROOT'))
    .addOption(new Option('--region <region>', 'AWS region (default AWS_REGION, else us-east-1)').env('AWS_REGION'))
    .addOption(new Option('--sqs-endpoint <url>', 'SQS endpoint, for LocalStack or a test server').env('AWS_ENDPOINT_URL_SQS'))
    .addOption(new Option('--queue-prefix <prefix>', 'prefix of every queue name (default taskerman)').env('TASKERMAN_QUEUE_PREFIX'))
    .addOption(new Option('--log-level <level>', 'log level (default info)').choices(LOG_LEVELS as unknown as string[]).env('TASKERMAN_LOG_LEVEL'))
    .addOption(new Option('--config <file.yaml>', 'config file with the same keys in snake_case (zk, zk_root, ...)').env('TASKERMAN_CONFIG'));
}

/** The parsed YAML of a config file (not yet validated). */
export function readConfigYaml(path: string): unknown {
  try {
    return parseYaml(readFileSync(path, 'utf8')) ?? {};
  } catch (err) {
    throw new OptionError('config', `${path} cannot be read as YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

/** Validates a config file's content against `schema`: every problem named by its field, unknown keys with the one meant. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, path: string): z.infer<S> {
  const r = schema.safeParse(raw);
  if (!r.success) {
    throw new SpecError(
      r.error.issues.flatMap((i) => {
        const field = i.path.join('.');
        if (i.code !== 'unrecognized_keys') return [{ file: path, field: field || '(file)', message: i.message }];
        const known = field === '' ? CONFIG_KEYS : field === 'exec' ? ['commands'] : [];
        return i.keys.map((k) => {
          const near = didYouMean(k, known);
          return { file: path, field: field ? `${field}.${k}` : k, message: `unknown key${near ? `: did you mean \`${near}\`?` : ''} (known keys: ${known.join(', ') || 'see examples/runner-config.yaml'})` };
        });
      }),
    );
  }
  return r.data;
}

/** Reads a config file's common keys (a runner's local sections are checked by runner-config.ts). */
export function readConfigFile(path: string): z.infer<typeof commonFileSchema> {
  return parseConfig(commonFileSchema, readConfigYaml(path), path);
}

/** Compiles the common options of a parsed command (its own and its parents') into one required shape. */
export function resolveCommon(opts: Record<string, unknown>, defaults: { logLevel?: CommonConfig['logLevel'] } = {}): CommonConfig {
  const file = typeof opts.config === 'string' ? readConfigFile(opts.config) : {};
  const pick = (flag: unknown, fromFile: unknown): string | undefined => (typeof flag === 'string' && flag !== '' ? flag : typeof fromFile === 'string' ? fromFile : undefined);
  const logLevel = (pick(opts.logLevel, file.log_level) ?? defaults.logLevel ?? 'info') as CommonConfig['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) throw new OptionError('log-level', `must be one of ${LOG_LEVELS.join(', ')}`);
  const sqsEndpoint = pick(opts.sqsEndpoint, file.sqs_endpoint);
  if (sqsEndpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(sqsEndpoint)) {
    throw new OptionError('sqs-endpoint', `"${sqsEndpoint}" must be a URL like http://127.0.0.1:4566`);
  }
  return {
    zk: pick(opts.zk, file.zk) ?? '127.0.0.1:2181',
    zkRoot: validateZkRoot(pick(opts.zkRoot, file.zk_root) ?? '/taskerman'),
    region: pick(opts.region, file.region) ?? 'us-east-1',
    sqsEndpoint,
    queuePrefix: validatePrefix(pick(opts.queuePrefix, file.queue_prefix) ?? 'taskerman'),
    logLevel,
    configFile: typeof opts.config === 'string' ? opts.config : undefined,
    file: file as Record<string, unknown>,
  };
}
