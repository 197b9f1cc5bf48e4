// A host of the rollout benchmark in a child process (worker.ts), driven over IPC. Every call is bounded in
// time; a child that exits fails the calls in flight at once. Every child spawned here is killed when this
// process exits, however it exits (`killAllHosts` on an error or a signal, and a synchronous SIGKILL on
// 'exit'); a child exits by itself when this process goes away (worker.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HostReport } from './host-report.js';
import type { HostAnswer, HostRequest } from './ipc.js';
import type { HostPlan, RolloutHost } from './local-host.js';

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CALL_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;
const KILL_WAIT_MS = 5_000;

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

/** Child hosts spawned and not yet exited. */
export function liveHosts(): number {
  return live.size;
}

/** SIGKILLs every child host still running and waits (bounded) until they are gone. */
export async function killAllHosts(): Promise<void> {
  const gone = [...live].map((c) => exited(c, KILL_WAIT_MS));
  for (const c of live) c.kill('SIGKILL');
  await Promise.all(gone);
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

type Op = HostRequest extends infer R ? (R extends { op: infer O } ? O : never) : never;
type Payload<O extends Op> = Omit<Extract<HostRequest, { op: O }>, 'id' | 'op'>;

export interface SpawnOptions {
  /** Extra node options for the child (e.g. --cpu-prof, --cpu-prof-dir=...). */
  nodeOptions?: string[];
  /** Bound on the child's start (its runners connected and polling), ms. */
  startTimeoutMs?: number;
}

export class RemoteHost implements RolloutHost {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private exit: string | undefined;
  private endpoint: string | undefined;

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (a: HostAnswer) => {
      const p = this.pending.get(a.id);
      if (!p) return;
      this.pending.delete(a.id);
      clearTimeout(p.timer);
      if (a.ok) p.resolve(a.result);
      else p.reject(new Error(`${label}: ${a.error}`));
    });
    child.once('exit', (code, signal) => {
      live.delete(child);
      this.exit = signal ? `killed by ${signal}` : `exited with code ${code}`;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`${label} ${this.exit}`));
      }
      this.pending.clear();
    });
  }

  /** Spawns a worker and starts `plan` in it; the child is killed if it does not start within the bound. */
  static async spawn(plan: HostPlan, opts: SpawnOptions = {}): Promise<RemoteHost> {
    const child = spawn(process.execPath, [...(opts.nodeOptions ?? []), '--import', 'tsx', WORKER, plan.label], {
      cwd: REPO,
      // The child's stdout goes to our stderr: stdout carries only the benchmark's figures.
      stdio: ['ignore', 2, 'inherit', 'ipc'],
    });
    live.add(child);
    const host = new RemoteHost(plan.label, child);
    child.once('error', (err) => host.fail(err));
    try {
      const { sqsEndpoint } = (await host.call('start', { plan }, opts.startTimeoutMs ?? 180_000)) as { sqsEndpoint?: string };
      host.endpoint = sqsEndpoint ?? undefined;
    } catch (err) {
      child.kill('SIGKILL');
      await exited(child, KILL_WAIT_MS);
      throw err;
    }
    return host;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
  get sqsEndpoint(): string | undefined {
    return this.endpoint;
  }

  private fail(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`${this.label}: ${err.message}`));
    }
    this.pending.clear();
  }

  private call<O extends Op>(op: O, payload: Payload<O>, timeoutMs = CALL_TIMEOUT_MS): Promise<unknown> {
    if (this.exit) return Promise.reject(new Error(`${this.label} ${this.exit}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.label}: no answer to ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ id, op, ...payload } as HostRequest, (err) => {
        if (!err) return;
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new Error(`${this.label}: cannot send ${op}: ${err.message}`));
      });
    });
  }

  async sqsCounts(): Promise<Record<string, number>> {
    return (await this.call('sqsCounts', {})) as Record<string, number>;
  }
  async measure(taskIds: string[]): Promise<void> {
    await this.call('measure', { taskIds });
  }
  async collect(): Promise<HostReport> {
    return (await this.call('collect', {})) as HostReport;
  }

  /** Asks the child to stop and exit; SIGKILLs it when it does not within the bound. Never throws. */
  async stop(): Promise<void> {
    if (this.exit) return;
    await this.call('stop', {}, STOP_TIMEOUT_MS).catch(() => undefined);
    if (!(await exited(this.child, KILL_WAIT_MS))) {
      this.child.kill('SIGKILL');
      await exited(this.child, KILL_WAIT_MS);
    }
  }
}
