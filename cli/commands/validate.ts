// `taskerman validate <file|dir>...`: what a config repo's CI runs, over task specs and cluster policies alike
// (a file with a top-level budget, zone_budget, health or return_grace and no action is a policy). Exit 0, or
// exit 2 with every problem listed as `file: field: message`.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { Command } from 'commander';
import { SpecError, TaskermanError, type Issue } from '../../core/errors.js';
import { looksLikePolicy, parsePolicyText, type ClusterPolicy } from '../../core/budget/policy.js';
import { parseTaskSpecText, SPEC_EXTENSIONS, type TaskSpec } from '../../core/task/task-spec.js';
import { checkAction } from '../check-action.js';
import { parseYaml } from '../../core/yaml.js';
import { EXIT, ExitError } from '../handle-error.js';
import { printJson } from '../output/print.js';

export async function specFiles(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    let s;
    try {
      s = await stat(p);
    } catch {
      throw new SpecError([{ file: p, field: '(file)', message: 'does not exist' }]);
    }
    if (s.isDirectory()) {
      const names = (await readdir(p)).filter((n) => SPEC_EXTENSIONS.includes(extname(n).toLowerCase())).sort();
      out.push(...names.map((n) => join(p, n)));
    } else {
      out.push(p);
    }
  }
  return out;
}

export type LoadedFile = { kind: 'spec'; file: string; spec: TaskSpec } | { kind: 'policy'; file: string; policy: ClusterPolicy };

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new SpecError([{ file, field: '(file)', message: `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }], { cause: err });
  }
}

/**
 * Reads a task spec or a cluster policy, telling one from the other by its fields (`looksLikePolicy`); `as`
 * forces one kind. A file that is not valid YAML/JSON is reported by the spec parser (same message either way).
 */
export async function loadSpecOrPolicy(file: string, as?: 'policy'): Promise<LoadedFile> {
  const text = await readText(file);
  if (as === 'policy') return { kind: 'policy', file, policy: parsePolicyText(text, file) };
  let data: unknown;
  try {
    data = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch {
    data = undefined;
  }
  if (looksLikePolicy(data)) return { kind: 'policy', file, policy: parsePolicyText(text, file) };
  return { kind: 'spec', file, spec: parseTaskSpecText(text, file) };
}

/** Validates every file (task specs and cluster policies); returns the problems (empty when all are valid). */
export async function validateFiles(files: string[]): Promise<{ ok: string[]; issues: Issue[]; policies: Array<{ file: string; policy: ClusterPolicy }> }> {
  const ok: string[] = [];
  const issues: Issue[] = [];
  const names = new Map<string, string>();
  const clusters = new Map<string, string>();
  const policies: Array<{ file: string; policy: ClusterPolicy }> = [];
  for (const file of files) {
    try {
      const loaded = await loadSpecOrPolicy(file);
      if (loaded.kind === 'policy') {
        const prev = clusters.get(loaded.policy.cluster);
        if (prev) {
          issues.push({ file, field: 'cluster', message: `"${loaded.policy.cluster}" already has a policy in ${prev}; keep one policy file per cluster` });
          continue;
        }
        clusters.set(loaded.policy.cluster, file);
        policies.push({ file, policy: loaded.policy });
        ok.push(file);
        continue;
      }
      const spec = loaded.spec;
      try {
        // Loads the modules of the actions the specs name, not every built-in action.
        await checkAction(spec);
      } catch (err) {
        if (err instanceof TaskermanError) {
          issues.push({ file, field: err.code === 'INVALID_ARGS' && err.message.includes('args') ? 'args' : err.code === 'UNKNOWN_ACTION' ? 'action' : 'version', message: `${err.message}${err.hint ? ` (${err.hint})` : ''}` });
          continue;
        }
        throw err;
      }
      const prev = names.get(spec.name);
      if (prev) {
        issues.push({ file, field: 'name', message: `"${spec.name}" is also the name of ${prev}; names must be unique` });
        continue;
      }
      names.set(spec.name, file);
      ok.push(file);
    } catch (err) {
      if (err instanceof SpecError) issues.push(...err.issues);
      else throw err;
    }
  }
  return { ok, issues, policies };
}

export function validateCommand(): Command {
  return new Command('validate')
    .description('validate task specs and cluster policies (a directory: every .yaml/.yml/.json in it); exit 2 listing every problem')
    .argument('<paths...>', 'task spec or policy files, or directories of them')
    .option('--json', 'print JSON')
    .action(async (paths: string[], o: { json?: boolean }) => {
      const files = await specFiles(paths);
      const { ok, issues, policies } = await validateFiles(files);
      const policyOf = new Map(policies.map((p) => [p.file, p.policy.cluster]));
      if (o.json) {
        printJson({ out: (l) => process.stdout.write(`${l}\n`) }, 'validate', { valid: ok, policies: policies.map((p) => ({ file: p.file, cluster: p.policy.cluster })), problems: issues.map((i) => ({ file: i.file ?? null, field: i.field, message: i.message })) });
      } else {
        for (const f of ok) process.stdout.write(`${f}: ok${policyOf.has(f) ? ` (policy of ${policyOf.get(f)})` : ''}\n`);
        for (const i of issues) process.stderr.write(`${i.file}: ${i.field}: ${i.message}\n`);
      }
      if (files.length === 0) throw new ExitError(EXIT.usage, `taskerman: no spec or policy files (.yaml, .yml, .json) in ${paths.join(', ')}`);
      if (issues.length) throw new ExitError(EXIT.usage, `taskerman: ${issues.length} problem(s) in ${files.length - ok.length} of ${files.length} file(s)`);
    });
}
