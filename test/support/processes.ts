// Small helpers for tests that start real servers: is a binary installed, wait (bounded) for a child to exit.
import type { ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export function onPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      accessSync(path.join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      // not in this dir
    }
  }
  return false;
}

export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

/** Skips the suite with a clear message when a server binary is missing (outside CI; CI installs them). */
export function requireBinary(ctx: Mocha.Context, available: boolean, what: string): void {
  if (available) return;
  if (process.env.CI) throw new Error(`${what} is not installed: test/run.sh installs it (apt-get install -y ${what})`);
  process.stderr.write(`! ${what} is not installed: skipping "${ctx.currentTest?.parent?.title ?? ctx.test?.parent?.title ?? ''}"\n`);
  ctx.skip();
}
