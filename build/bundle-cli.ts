// The on-call CLI as one bundle (dist/cli-bundle/), built by `npm run build` after tsc. Loading the compiled
// dist/ is ~1,000 small ES modules for a `run --wait` (zod's ~95, the AWS SDK's hundreds): Node resolves,
// reads, compiles and links each one, ~100 ms of a command's wall time. The bundle is the same code in a few
// files. Code splitting keeps every lazy `import()` lazy (each command, the SQS adapter, ZooKeeper, EC2 are
// their own chunks), so `--version` still loads nothing but commander.
//
// What stays outside the bundle, loaded from node_modules at run time as before:
// - pino-pretty, which pino's transport loads by name in a worker thread (thread-stream's worker file is
//   named to it through pino's `__bundlerPathsOverrides`: core/logger.ts);
// - yaml and node-cron, required lazily through createRequire (core/yaml.ts, core/task/task-spec.ts);
// - site plugins: they import the package (`taskerman`, dist/actions/), so a process that loads them must use
//   the same classes (errors checked with instanceof): the daemons (router, runner, scheduler) run the compiled
//   dist/cli/main.js, never the bundle (bin/taskerman.js decides).
//
//   node --import tsx build/bundle-cli.ts [--outdir dist/cli-bundle]
import { build, type Metafile, type Plugin } from 'esbuild';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_OUTDIR = path.join(REPO, 'dist', 'cli-bundle');

/** Packages loaded from node_modules at run time (see the header). */
export const EXTERNAL = ['pino-pretty'];

/**
 * `node:http` and `node:https` for the packages (the AWS SDK's HTTP handler) through CommonJS `require`. Their
 * ES module builds `import("node:http")`, and Node makes an ES module of a built-in by reading every export:
 * http's WebSocket, MessageEvent and CloseEvent getters then load Node's copy of undici (~30 ms of CPU) for a
 * request that never uses it. Only default imports are served (what the SDK uses); a named import fails the build.
 */
export const httpAsCommonJs: Plugin = {
  name: 'http-as-commonjs',
  setup(b) {
    b.onResolve({ filter: /^(node:)?https?$/ }, (args) => (args.importer.includes('/node_modules/') ? { path: args.path.replace(/^node:/, ''), namespace: 'http-as-commonjs' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'http-as-commonjs' }, (args) => ({
      contents: `import { createRequire } from 'node:module';\nexport default createRequire(import.meta.url)('node:${args.path}');\n`,
      loader: 'js',
    }));
  },
};

export interface BundleResult {
  outdir: string;
  /** The entry: import it to run the CLI (it reads process.argv). */
  main: string;
  metafile: Metafile;
}

export async function bundleCli(outdir: string = DEFAULT_OUTDIR): Promise<BundleResult> {
  // A stale chunk from an earlier build is never loaded (names are content hashes), but it would ship.
  await rm(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: REPO,
    entryPoints: { main: 'cli/main.ts' },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    // ES module builds where a package has both: they are the ones esbuild can tree-shake.
    mainFields: ['module', 'main'],
    chunkNames: 'chunks/[name]-[hash]',
    external: EXTERNAL,
    plugins: [httpAsCommonJs],
    // CommonJS packages inside an ES module bundle still call require() (Node built-ins, mostly); esbuild's
    // shim uses a `require` in scope when there is one.
    banner: { js: "import { createRequire as __taskermanCreateRequire } from 'node:module'; const require = __taskermanCreateRequire(import.meta.url);" },
    // Class names stay (errors name themselves with new.target.name), and stack traces stay readable.
    minify: false,
    metafile: true,
    logLevel: 'warning',
  });
  return { outdir, main: path.join(outdir, 'main.js'), metafile: result.metafile };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outdir: { type: 'string', default: DEFAULT_OUTDIR } } });
  const r = await bundleCli(path.resolve(values.outdir));
  const files = Object.entries(r.metafile.outputs);
  const bytes = files.reduce((n, [, o]) => n + o.bytes, 0);
  process.stderr.write(`bundle-cli: ${path.relative(REPO, r.main)} and ${files.length - 1} chunks, ${(bytes / 1024 / 1024).toFixed(1)} MiB\n`);
}
