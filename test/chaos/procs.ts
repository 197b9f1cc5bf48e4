// The child processes of a chaos run: spawned with `node --import tsx`, ready when they print `ready`,
// stopped with SIGTERM (then SIGKILL after a grace period), killed with SIGKILL as a fault. Every child
// is registered so that the driver kills whatever is left when it exits, even on an error.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { READY_LINE } from './proc-env.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, '..', '..');
const READY_TIMEOUT_MS = 60_000;
const TERM_GRACE_MS = 8_000;

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ChaosProc {
  readonly pid: number;
  /** Set once the process has exited. */
  exit: ChildExit | undefined;
  /** True when the driver asked it to go (SIGTERM or SIGKILL): its exit is not a finding. */
  expectedExit = false;
  private readonly exited: Promise<ChildExit>;

  constructor(
    readonly role: 'runner' | 'router',
    readonly name: string,
    private readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    if (child.pid === undefined) throw new Error(`chaos: could not start ${name}`);
    this.pid = child.pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        live.delete(child);
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** Resolves once the child printed its ready line; rejects if it exits first or takes too long. */
  ready(): Promise<void> {
    return new Promise((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => finish(new Error(`chaos: ${this.name} not ready after ${READY_TIMEOUT_MS} ms (log: ${this.logFile})`)), READY_TIMEOUT_MS);
      const onData = (d: Buffer) => {
        buf += d.toString('utf8');
        if (buf.split('\n').includes(READY_LINE)) finish();
      };
      const onExit = () => finish(new Error(`chaos: ${this.name} exited before it was ready (log: ${this.logFile})`));
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.child.stdout?.off('data', onData);
        this.child.off('exit', onExit);
        // Keep draining stdout so the child never blocks on a full pipe.
        this.child.stdout?.resume();
        if (err) reject(err);
        else resolve();
      };
      this.child.stdout?.on('data', onData);
      this.child.once('exit', onExit);
      if (this.exit) onExit();
    });
  }

  /** SIGKILL, resolved once the process is gone. */
  async kill9(): Promise<ChildExit> {
    this.expectedExit = true;
    if (this.alive) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM, then SIGKILL after a grace period; resolved once the process is gone. */
  async stop(graceMs = TERM_GRACE_MS): Promise<ChildExit> {
    this.expectedExit = true;
    if (!this.alive) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface SpawnOptions {
  role: 'runner' | 'router';
  name: string;
  env: Record<string, string>;
  logFile: string;
}

export function spawnChaosProc(o: SpawnOptions): ChaosProc {
  installExitHook();
  const script = path.join(HERE, o.role === 'runner' ? 'runner-proc.ts' : 'router-proc.ts');
  const log = openSync(o.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: REPO,
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'pipe', log],
    });
  } finally {
    closeSync(log);
  }
  // A spawn failure also ends in 'exit' (or no pid); without a listener 'error' would crash the driver.
  child.on('error', () => undefined);
  live.add(child);
  return new ChaosProc(o.role, o.name, child, o.logFile);
}

/** Kills every child still running (the last resort of the driver's finally). */
export function killAllChaosProcs(): void {
  for (const c of live) c.kill('SIGKILL');
}
