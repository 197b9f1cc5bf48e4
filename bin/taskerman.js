#!/usr/bin/env node
// Entry shim: runs the compiled CLI (built by `npm ci` through the `prepare` script). In a checkout
// without a build it falls back to the TypeScript sources through tsx, so contributors never run stale code
// by accident: set TASKERMAN_FROM_SOURCE=1 to force the sources.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'cli', 'main.js');
if (existsSync(built) && process.env.TASKERMAN_FROM_SOURCE !== '1') {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(root, 'cli', 'main.ts')).href);
}
