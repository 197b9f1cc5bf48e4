// A real redis-server (Debian's `redis-server` package) for tests: on a free loopback port, in its own temp
// dir, no automatic saves, optionally a replica of another; ready when it answers PING (a replica: when its
// link to the primary is up), stopped and removed afterwards, killed if the test process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { redisCall, redisInfo } from '../../actions/redis/resp.js';
import { freePort } from './zk-server.js';
import { onPath, waitExit } from './processes.js';

const READY_TIMEOUT_MS = 30_000;

export const redisAvailable = (): boolean => onPath('redis-server') && onPath('redis-check-rdb');

export interface RedisServer {
  port: number;
  dir: string;
  stop(): Promise<void>;
}

/** Starts redis-server; `dir` (a temp dir by default) may already hold a dump.rdb to load. */
export async function startRedis(o: { replicaOf?: number; dir?: string } = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = o.dir ?? (await mkdtemp(path.join(os.tmpdir(), 'taskerman-redis-')));
  const log = path.join(dir, 'redis.log');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', log];
  if (o.replicaOf) args.push('--replicaof', '127.0.0.1', String(o.replicaOf));
  const child: ChildProcess = spawn('redis-server', args, { stdio: 'ignore' });
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const stop = async () => {
    child.kill('SIGTERM');
    if (!(await waitExit(child, 5000))) {
      child.kill('SIGKILL');
      await waitExit(child, 5000);
    }
    process.off('exit', killOnExit);
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const signal = new AbortController().signal;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = (await readFile(log, 'utf8').catch(() => '')).slice(-2000);
      await rm(dir, { recursive: true, force: true });
      process.off('exit', killOnExit);
      throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode}); log tail:\n${tail}`);
    }
    try {
      if ((await redisCall({ host: '127.0.0.1', port }, ['PING'], { signal, timeoutMs: 1000 })) === 'PONG') {
        if (!o.replicaOf) break;
        if ((await redisInfo({ host: '127.0.0.1', port }, 'replication', { signal })).get('master_link_status') === 'up') break;
      }
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis-server on ${port} not ready after ${READY_TIMEOUT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, dir, stop };
}
