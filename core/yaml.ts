// YAML, loaded on first use. Spec files, policies, inventories and config files are YAML, but most commands
// parse none (`run` builds its spec from flags, `status` reads JSON records): the parser (~20 ms and 70
// modules at start) is loaded synchronously the first time a YAML text is parsed, not when a module imports this.
import { createRequire } from 'node:module';

type YamlModule = typeof import('yaml');

let loaded: YamlModule | undefined;

function yaml(): YamlModule {
  // The package is CommonJS for Node (its "node" export), so require() returns the very module `import` would.
  loaded ??= createRequire(import.meta.url)('yaml') as YamlModule;
  return loaded;
}

/** `yaml`'s parse(): the document's value (undefined for an empty text); throws on invalid YAML. */
export function parseYaml(text: string, options?: { prettyErrors?: boolean }): unknown {
  return yaml().parse(text, options) as unknown;
}

/** The line (1-based) of a YAML parse error, when the error is one and knows it. */
export function yamlErrorLine(err: unknown): number | undefined {
  return err instanceof yaml().YAMLParseError ? err.linePos?.[0]?.line : undefined;
}
