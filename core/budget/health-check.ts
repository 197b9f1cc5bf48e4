// Health checks of the admission gate. A check is defined in the runner's local config, never in ZooKeeper
// or a message (like the exec allowlist): `checks: { ring-healthy: { argv: [/usr/local/bin/ring-healthy] } }`.
// Exit 0 is healthy. Anything else — another exit code, a timeout, a check that cannot run or is not defined
// here — closes the gate: waiting is safe, taking more nodes down is not. The argv runs without a shell.
import { spawn } from 'node:child_process';
import { z } from 'zod';
import type { HealthGate } from './policy.js';

export const healthChecksSchema = z.record(
  z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, 'check names are letters, digits, ".", "_" or "-"'),
  z.strictObject({
    argv: z.array(z.string(), { error: 'must be an argv list like [/usr/local/bin/ring-healthy, --quiet]' }).min(1, 'must name the program to run'),
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
  }),
);
export type HealthChecks = z.infer<typeof healthChecksSchema>;

export interface CheckOutcome {
  ok: boolean;
  /** One line: "passed", "exited 1: <last line of output>", "timed out after 30s", "is not defined in ...". */
  detail: string;
}

const MAX_OUTPUT = 64 * 1024;

/** Runs the named check of this process's config under the gate's timeout. Never throws. */
export async function runHealthCheck(checks: HealthChecks, gate: HealthGate, signal?: AbortSignal): Promise<CheckOutcome> {
  const def = checks[gate.check];
  if (!def) return { ok: false, detail: `is not defined in this runner's config (checks: ${Object.keys(checks).join(', ') || 'none'})` };
  const [file, ...args] = def.argv as [string, ...string[]];
  return new Promise<CheckOutcome>((resolve) => {
    let out = '';
    let done = false;
    const finish = (o: CheckOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const child = spawn(file, args, { cwd: def.cwd, env: def.env ? { ...process.env, ...def.env } : process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const kill = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      kill();
      finish({ ok: false, detail: `timed out after ${Math.round(gate.timeoutMs / 100) / 10}s` });
    }, gate.timeoutMs);
    const onAbort = () => {
      kill();
      finish({ ok: false, detail: 'aborted' });
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const take = (b: Buffer) => {
      if (out.length < MAX_OUTPUT) out += b.toString('utf8');
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('error', (err) => finish({ ok: false, detail: `cannot run ${file}: ${(err as NodeJS.ErrnoException).code ?? err.message}` }));
    child.on('close', (code, sig) => {
      const last = out.trim().split('\n').pop()?.slice(0, 300) ?? '';
      if (code === 0) finish({ ok: true, detail: last ? `passed: ${last}` : 'passed' });
      else finish({ ok: false, detail: `${code !== null ? `exited ${code}` : `killed by ${sig}`}${last ? `: ${last}` : ''}` });
    });
  });
}
