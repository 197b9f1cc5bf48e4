// The exec action: commands come from the runner's allowlist only, task arguments reach the program as
// plain argv (never through a shell), and a timeout or cancellation kills the whole process group.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExecAction, runArgv } from '../../actions/exec.js';
import { ActionRegistry } from '../../actions/registry.js';
import { silentLogger } from '../../core/logger.js';
import type { ActionContext } from '../../actions/action.js';

const HOSTILE = ['; touch PWNED', '$(touch PWNED)', '`touch PWNED`', 'a | touch PWNED', '&& touch PWNED', '> PWNED', "' \" \\", '*', '$HOME', '\n touch PWNED'];

/** Waits (bounded) until a process is gone. */
async function gone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

function ctxFor(args: unknown, signal: AbortSignal): ActionContext<unknown> {
  return { taskId: 't', cluster: 'c', node: 'n', args, attempt: 1, fencingToken: 1, signal, logger: silentLogger, heartbeat: () => undefined, history: [], grant: { token: 1, grantedAt: new Date(0).toISOString(), taskId: 't' }, checkpoint: { get: () => undefined, set: async () => undefined } };
}

describe('exec action', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'taskerman-exec-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('passes shell metacharacters in task arguments as plain argv, through no shell', async () => {
    const out = join(dir, 'argv.json');
    const action = createExecAction({
      'record-args': {
        argv: [process.execPath, '-e', 'require("fs").writeFileSync(process.env.OUT, JSON.stringify(process.argv.slice(1)))'],
        allow_args: true,
        env: { OUT: out },
        cwd: dir,
      },
    });
    const registry = new ActionRegistry([action]);
    const args = registry.parseArgs(action, { command: 'record-args', args: HOSTILE });
    await action.execute(ctxFor(args, new AbortController().signal));
    assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), HOSTILE);
    assert.equal(existsSync(join(dir, 'PWNED')), false, 'nothing was interpreted by a shell');
  });

  it('refuses a command that is not in the allowlist, and extra arguments unless allowed', async () => {
    const action = createExecAction({ fixed: { argv: [process.execPath, '-e', '0'], allow_args: false, env: {} } });
    const signal = new AbortController().signal;
    await assert.rejects(action.execute(ctxFor({ command: 'rm', args: [] }, signal)), (e: Error & { code?: string; retryable?: boolean }) => e.code === 'NOT_ALLOWED' && e.retryable === false && /not in this runner's exec allowlist/.test(e.message));
    await assert.rejects(action.execute(ctxFor({ command: 'fixed', args: ['--force'] }, signal)), /does not take extra arguments/);
  });

  it('runs pre_check and post_check commands and fails on a non-zero exit with the output tail', async () => {
    const action = createExecAction({
      checked: { argv: [process.execPath, '-e', '0'], pre_check: [process.execPath, '-e', 'console.error("cluster is red"); process.exit(3)'], allow_args: false, env: {} },
    });
    await assert.rejects(action.preCheck!(ctxFor({ command: 'checked', args: [] }, new AbortController().signal)), /pre_check: .*exit code 3: cluster is red/);
  });

  it('kills the whole process group when aborted (timeout or cancel)', async () => {
    const pidFile = join(dir, 'grandchild.pid');
    // The child starts a grandchild in the same process group, records its pid, then both sleep.
    const script = `const { spawn } = require('child_process'); const g = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 100000)'], { stdio: 'ignore' }); require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(g.pid)); setTimeout(() => {}, 100000);`;
    const ac = new AbortController();
    const run = runArgv([process.execPath, '-e', script], { signal: ac.signal });
    const deadline = Date.now() + 10_000;
    while (!existsSync(pidFile) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    ac.abort(new Error('timed out'));
    const r = await run;
    assert.equal(r.signal, 'SIGTERM');
    assert.ok(await gone(grandchild), 'the grandchild was killed with its group');
  });
});
