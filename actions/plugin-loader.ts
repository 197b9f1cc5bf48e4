// Loading site plugins at runner (or router) start: each module named in the config is hashed and compared
// with its pinned sha256 before it is imported; a mismatch, a module that is writable by others, or a
// module without a valid default export refuses the start with one line naming the file. The hash is taken
// immediately before the import; the plugin directory must be writable by root only (this is checked for
// the file itself) so that nobody swaps the file between the two.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { z } from 'zod';
import { OptionError } from '../core/errors.js';
import { defineAction, type AnyAction } from './action.js';
import * as kit from './kit/index.js';
import type { ServiceManager } from './kit/service-manager.js';
import type { TaskermanPlugin } from './plugin.js';

export const pluginEntrySchema = z.strictObject({
  /** Absolute path of the ES module. */
  module: z.string().refine((p) => path.isAbsolute(p), 'must be an absolute path'),
  /** sha256 of the module's bytes (`sha256sum <file>`). */
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the 64 hex digits of `sha256sum <file>`'),
  /** Handed to the plugin as its config. */
  config: z.unknown().optional(),
});
export type PluginEntry = z.infer<typeof pluginEntrySchema>;
export const pluginsSchema = z.array(pluginEntrySchema);

export class PluginError extends OptionError {
  constructor(module: string, message: string, cause?: unknown) {
    super('plugins', `${module}: ${message}`, cause === undefined ? {} : { cause });
  }
}

/** A zod error as "config.path: message; ..."; anything else as its first line. */
function oneLine(err: unknown): string {
  const issues = (err as { issues?: Array<{ path: PropertyKey[]; message: string }> }).issues;
  if (Array.isArray(issues)) return issues.map((i) => `config${i.path.length ? '.' + i.path.map(String).join('.') : ''}: ${i.message}`).join('; ');
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

function isPlugin(x: unknown): x is TaskermanPlugin {
  return typeof x === 'object' && x !== null && typeof (x as TaskermanPlugin).name === 'string' && typeof (x as TaskermanPlugin).actions === 'function';
}

function isAction(x: unknown): x is AnyAction {
  const a = x as AnyAction;
  return typeof a === 'object' && a !== null && typeof a.name === 'string' && typeof a.version === 'number' && typeof a.execute === 'function' && typeof a.args?.safeParse === 'function';
}

/** Verifies, imports and builds every plugin's actions, in config order. */
export async function loadPlugins(entries: readonly PluginEntry[], o: { logger: Logger; serviceManager: ServiceManager }): Promise<AnyAction[]> {
  const out: AnyAction[] = [];
  for (const e of entries) {
    let bytes: Buffer;
    try {
      const st = await stat(e.module);
      if (st.mode & 0o002) throw new PluginError(e.module, 'is writable by every user; refusing to load it (chmod o-w)');
      bytes = await readFile(e.module);
    } catch (err) {
      if (err instanceof PluginError) throw err;
      throw new PluginError(e.module, `cannot be read: ${(err as Error).message}`, err);
    }
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== e.sha256) throw new PluginError(e.module, `sha256 is ${sha} but the config pins ${e.sha256}; refusing to start (update the pin only after reviewing the change)`);
    let mod: { default?: unknown };
    try {
      // The hash in the URL gives a changed module a new identity in the module cache.
      mod = (await import(`${pathToFileURL(e.module).href}?sha256=${sha}`)) as { default?: unknown };
    } catch (err) {
      throw new PluginError(e.module, `cannot be imported: ${(err as Error).message.split('\n')[0]}`, err);
    }
    if (!isPlugin(mod.default)) throw new PluginError(e.module, 'has no default export of the shape { name, actions(ctx) } (see actions/README.md)');
    const plugin = mod.default;
    let actions: unknown;
    try {
      actions = await plugin.actions({ config: e.config, logger: o.logger.child({ plugin: plugin.name }), serviceManager: o.serviceManager, kit, z, defineAction });
    } catch (err) {
      throw new PluginError(e.module, `plugin "${plugin.name}" refused its config: ${oneLine(err)}`, err);
    }
    if (!Array.isArray(actions) || !actions.every(isAction)) throw new PluginError(e.module, `plugin "${plugin.name}" did not return a list of actions ({ name, version, args, execute })`);
    o.logger.info({ plugin: plugin.name, module: e.module, sha256: sha, actions: actions.map((a) => a.name) }, 'plugin loaded');
    out.push(...actions);
  }
  return out;
}
