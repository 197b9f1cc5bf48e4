// The Discovery port: turn a task spec into the list of target nodes. Adapters: explicit nodes (in the
// spec), a static inventory file, and live members in ZooKeeper; EC2 tags plug in the same way.
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { parseYaml } from '../yaml.js';
import { TaskermanError } from '../errors.js';
import type { Membership } from '../coordination/membership.js';
import type { DiscoveryKind, TaskSpec } from '../task/task-spec.js';

export interface Discovery {
  readonly kind: DiscoveryKind;
  /** Target node names, de-duplicated and in a stable order. Throws DISCOVERY_FAILED / NO_TARGETS. */
  resolve(spec: TaskSpec): Promise<string[]>;
}

export class DiscoveryError extends TaskermanError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super('DISCOVERY_FAILED', message, { retryable: false, ...opts });
  }
}

const byName = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

export class ExplicitDiscovery implements Discovery {
  readonly kind = 'explicit' as const;
  async resolve(spec: TaskSpec): Promise<string[]> {
    return [...new Set(spec.nodes)];
  }
}

/**
 * Static inventory, a YAML file kept in git beside the specs:
 *   clusters:
 *     "cassandra:geo_counter": [cass-geo-1, cass-geo-2]
 * The spec names the file; it is read only from inside `root` (a message must not pick files on the router).
 */
export class StaticDiscovery implements Discovery {
  readonly kind = 'static' as const;
  constructor(private readonly root: string) {}

  async resolve(spec: TaskSpec): Promise<string[]> {
    const file = spec.inventory;
    if (!file) throw new DiscoveryError('discovery "static" needs an inventory file', { hint: 'set `inventory:` in the spec' });
    const full = resolve(this.root, file);
    const rel = relative(this.root, full);
    if (rel.startsWith('..') || isAbsolute(rel)) {
      throw new DiscoveryError(`inventory "${file}" is outside the inventory root ${this.root}`, { hint: 'use a path relative to --inventory-root' });
    }
    let doc: unknown;
    try {
      doc = parseYaml(await readFile(full, 'utf8'));
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      throw new DiscoveryError(missing ? `inventory ${file} not found under the inventory root ${this.root}` : `cannot read inventory ${file}: ${(err as Error).message.split('\n')[0]}`, {
        cause: err,
        ...(missing ? { hint: `inventory paths are relative to --inventory-root: give the directory that holds ${file} (for the examples: --inventory-root examples/tasks)` } : {}),
      });
    }
    const clusters = (doc as { clusters?: unknown } | null)?.clusters;
    if (!clusters || typeof clusters !== 'object') throw new DiscoveryError(`inventory ${file}: clusters: must be a map of cluster name to a list of nodes`);
    const nodes = (clusters as Record<string, unknown>)[spec.cluster];
    if (nodes === undefined) throw new DiscoveryError(`inventory ${file} has no cluster "${spec.cluster}"`);
    if (!Array.isArray(nodes) || nodes.some((n) => typeof n !== 'string' || n === '')) {
      throw new DiscoveryError(`inventory ${file}: clusters.${spec.cluster}: must be a list of node names`);
    }
    return [...new Set(nodes as string[])].sort(byName);
  }
}

/** The runners registered live in ZooKeeper for the cluster. */
export class MembersDiscovery implements Discovery {
  readonly kind = 'members' as const;
  constructor(private readonly membership: Membership) {}
  async resolve(spec: TaskSpec): Promise<string[]> {
    return (await this.membership.list(spec.cluster)).map((m) => m.node).sort(byName);
  }
}

export type DiscoveryMap = Partial<Record<DiscoveryKind, Discovery>>;

export async function resolveTargets(spec: TaskSpec, discoveries: DiscoveryMap): Promise<string[]> {
  const d = discoveries[spec.discovery];
  if (!d) {
    throw new DiscoveryError(`discovery "${spec.discovery}" is not configured on this router`, {
      hint: `configured: ${Object.keys(discoveries).join(', ') || '(none)'}`,
    });
  }
  const nodes = await d.resolve(spec);
  if (nodes.length === 0) {
    throw new TaskermanError('NO_TARGETS', `discovery "${spec.discovery}" found no node for cluster "${spec.cluster}"`, { retryable: false });
  }
  return nodes;
}
