#!/usr/bin/env node
// Entry shim: runs the compiled CLI (built by `npm ci` through the `prepare` script). In a checkout
// without a build it falls back to the TypeScript sources through tsx, so contributors never run stale code
// by accident: set TASKERMAN_FROM_SOURCE=1 to force the sources.
import { existsSync, statSync } from 'node:fs';
import module from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

// Taskerman supports Node >= 22 (package.json engines). On an older Node it still runs, but the AWS SDK's
// nine-line "upgrade your Node" banner must not land in the middle of a command's output: its documented
// switch turns it off. A user who set the variable keeps their value.
if (Number(process.versions.node.split('.')[0]) < 22) process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// The daemons run for months on every node of a fleet, mostly waiting on a long poll: they trade the
// optimizing compiler and a large young generation for ~20 MB less memory each. The runner, one on every
// node and busy only while an action runs (its work is waiting on processes and sockets), also trades the
// baseline compiler, background GC threads and V8's speed-for-memory defaults for ~2 MB more; the router keeps
// them for its fan-outs. Node >= 22.15 replaces the process in place (same pid, so systemd and signals are
// unaffected); older Nodes just run without them. TASKERMAN_DAEMON_V8_FLAGS= (empty) turns it off; the
// variable also marks the replaced process.
const DAEMONS = new Set(['runner', 'router', 'scheduler']);
if (DAEMONS.has(process.argv[2] ?? '') && process.env.TASKERMAN_DAEMON_V8_FLAGS === undefined && typeof process.execve === 'function') {
  const flags = ['--max-semi-space-size=1', '--no-opt', ...(process.argv[2] === 'runner' ? ['--no-sparkplug', '--single-threaded-gc', '--optimize-for-size'] : [])];
  process.execve(process.execPath, [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, TASKERMAN_DAEMON_V8_FLAGS: flags.join(' ') });
}

// Node 22.1+: cache compiled code on disk (in the OS temp dir), so a command starts faster from its second run.
// Not for the daemons: they start once in months, and the cache's buffers stay in their memory (~1.3 MB each).
if (!DAEMONS.has(process.argv[2] ?? '')) module.enableCompileCache?.();

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
// The on-call commands run the bundle (build/bundle-cli.ts: the same code in a few files, ~100 ms faster to
// load). The daemons run the compiled files: the site plugins they load import this package's dist/actions and
// must see the daemon's own classes. A bundle older than the compiled files (tsc was run alone) is stale: unused.
const bundle = join(root, 'dist', 'cli-bundle', 'main.js');
const mtime = (file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs;
const fromSource = process.env.TASKERMAN_FROM_SOURCE === '1' || !existsSync(built);
const useBundle = !fromSource && !DAEMONS.has(process.argv[2] ?? '') && (mtime(bundle) ?? -1) >= (mtime(built) ?? Infinity);
if (useBundle) {
  await import(pathToFileURL(bundle).href);
} else if (!fromSource) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'cli', 'main.ts')).href);
}
