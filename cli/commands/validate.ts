// `taskerman validate <file|dir>...`: what a config repo's CI runs. Exit 0, or exit 2 with every problem
// listed as `file: field: message`.
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { Command } from 'commander';
import { builtinRegistry } from '../../actions/builtin.js';
import { SpecError, TaskermanError, type Issue } from '../../core/errors.js';
import { loadTaskSpecFile, SPEC_EXTENSIONS } from '../../core/task/task-spec.js';
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

/** Validates every file; returns the problems (empty when all are valid). */
export async function validateFiles(files: string[]): Promise<{ ok: string[]; issues: Issue[] }> {
  const registry = builtinRegistry();
  const ok: string[] = [];
  const issues: Issue[] = [];
  const names = new Map<string, string>();
  for (const file of files) {
    try {
      const spec = await loadTaskSpecFile(file);
      try {
        registry.parseArgs(registry.get(spec.action, spec.version), spec.args);
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
  return { ok, issues };
}

export function validateCommand(): Command {
  return new Command('validate')
    .description('validate task spec files (a directory: every .yaml/.yml/.json in it); exit 2 listing every problem')
    .argument('<paths...>', 'spec files or directories')
    .option('--json', 'print JSON')
    .action(async (paths: string[], o: { json?: boolean }) => {
      const files = await specFiles(paths);
      const { ok, issues } = await validateFiles(files);
      if (o.json) {
        printJson({ out: (l) => process.stdout.write(`${l}\n`) }, 'validate', { valid: ok, problems: issues.map((i) => ({ file: i.file ?? null, field: i.field, message: i.message })) });
      } else {
        for (const f of ok) process.stdout.write(`${f}: ok\n`);
        for (const i of issues) process.stderr.write(`${i.file}: ${i.field}: ${i.message}\n`);
      }
      if (files.length === 0) throw new ExitError(EXIT.usage, `taskerman: no spec files (.yaml, .yml, .json) in ${paths.join(', ')}`);
      if (issues.length) throw new ExitError(EXIT.usage, `taskerman: ${issues.length} problem(s) in ${files.length - ok.length} of ${files.length} file(s)`);
    });
}
