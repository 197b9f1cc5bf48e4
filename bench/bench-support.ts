// What the process benchmarks (bench/cli.ts, bench/idle.ts) share: an SQS-protocol server (fauxqs) on
// loopback that counts the requests it answers, the CLI spawned as a user runs it (bin/taskerman.js, so the
// compiled dist/ when it is built), and what /proc says about a process (RSS, CPU time).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { buildApp } from 'fauxqs';

/** The checkout whose CLI is measured: this one, or TASKERMAN_BENCH_REPO (e.g. an export of main, for a before/after). */
export const REPO = process.env.TASKERMAN_BENCH_REPO ?? fileURLToPath(new URL('..', import.meta.url));

export interface CountingSqs {
  endpoint: string;
  /** Requests answered since start (or the last reset), by action. */
  requests: Map<string, number>;
  /** When the server received the last SendMessage of each queue (epoch ms), by queue name. */
  lastSendAt: Map<string, number>;
  total(): number;
  stop(): Promise<void>;
}

export async function startCountingSqs(): Promise<CountingSqs> {
  const app = buildApp({ logger: false });
  const requests = new Map<string, number>();
  app.addHook('onRequest', async (req) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    const action = target ? target.slice(target.lastIndexOf('.') + 1) : 'other';
    requests.set(action, (requests.get(action) ?? 0) + 1);
  });
  const lastSendAt = new Map<string, number>();
  app.addHook('preHandler', async (req) => {
    const at = Date.now();
    if (!String(req.headers['x-amz-target'] ?? '').endsWith('.SendMessage')) return;
    const url = (req.body as { QueueUrl?: unknown } | undefined)?.QueueUrl;
    if (typeof url === 'string') lastSendAt.set(url.slice(url.lastIndexOf('/') + 1), at);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    lastSendAt,
    total: () => [...requests.values()].reduce((a, b) => a + b, 0),
    stop: () => app.close().then(() => undefined),
  };
}

/** The environment a spawned CLI gets: the backends, dummy credentials, nothing else of ours. */
export function cliEnv(zk: string, sqsEndpoint: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TASKERMAN_ZK: zk,
    TASKERMAN_ZK_ROOT: '/bench',
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    ...extra,
  };
}

export interface Daemon {
  child: ChildProcess;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts `taskerman <args>` and resolves once its output matches `ready` (bounded by `timeoutMs`). */
export async function startDaemon(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 60_000): Promise<Daemon> {
  const child = spawn(process.execPath, ['bin/taskerman.js', ...args], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (out += d));
  const deadline = Date.now() + timeoutMs;
  while (!ready.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`taskerman ${args[0]} not ready (${child.exitCode !== null ? `exited ${child.exitCode}` : 'timeout'}): ${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** Resident set size of a live process, in MiB (VmRSS). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** CPU time (user + system) a live process has used, in ms. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  // Fields 14 and 15 of /proc/<pid>/stat (utime, stime), counted from field 3 after the ") ".
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
