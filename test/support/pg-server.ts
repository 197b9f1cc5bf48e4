// Real PostgreSQL servers for tests (Debian's postgresql-15): a primary, and a streaming replica made with
// `pg_basebackup -R`, each on a free loopback port with its data dir in a temp dir. PostgreSQL refuses to
// run as root, so under root (CI) initdb and postgres run as the `postgres` user through runuser, in a temp
// dir it owns. Ready when `pg_isready` says so; stopped (fast shutdown) and removed afterwards.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './zk-server.js';
import { waitExit } from './processes.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';
const READY_TIMEOUT_MS = 90_000;

export const postgresAvailable = (): boolean => existsSync(path.join(PG_BIN, 'postgres')) && existsSync(path.join(PG_BIN, 'pg_basebackup')) && (process.getuid?.() !== 0 || existsSync('/usr/sbin/runuser') || existsSync('/sbin/runuser'));

export interface PgServer {
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

function asPostgres(argv: string[]): string[] {
  return process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
}

function run(argv: string[]): void {
  const [file, ...args] = asPostgres(argv) as [string, ...string[]];
  const r = spawnSync(file, args, { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).slice(-1500)}`);
}

/** A temp dir owned by the user the servers run as. */
export function pgScratch(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'taskerman-pg-'));
  if (process.getuid?.() === 0) {
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
  }
  return dir;
}

async function startPostgres(dataDir: string, port: number, sockDir: string): Promise<PgServer> {
  const log = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.log`);
  const argv = asPostgres([path.join(PG_BIN, 'postgres'), '-D', dataDir, '-c', `port=${port}`, '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${sockDir}`, '-c', 'wal_level=replica', '-c', 'max_wal_senders=5', '-c', 'hot_standby=on', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'shared_buffers=16MB', '-c', `logging_collector=off`]) as [string, ...string[]];
  const out = openSync(log, 'a');
  let child: ChildProcess;
  try {
    child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', out, out] });
  } finally {
    closeSync(out);
  }
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);
  const stop = async () => {
    // SIGINT is PostgreSQL's fast shutdown; runuser passes it on.
    child.kill('SIGINT');
    if (!(await waitExit(child, 20_000))) {
      child.kill('SIGKILL');
      await waitExit(child, 5000);
    }
    process.off('exit', killOnExit);
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      process.off('exit', killOnExit);
      throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}); log tail:\n${readFileSync(log, 'utf8').slice(-2000)}`);
    }
    const r = spawnSync(path.join(PG_BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-t', '1'], { encoding: 'utf8' });
    if (r.status === 0) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`postgres on ${port} not ready after ${READY_TIMEOUT_MS} ms; log tail:\n${readFileSync(log, 'utf8').slice(-2000)}`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  return { port, dataDir, stop };
}

/** A primary and a streaming replica of it; `stop()` stops both and removes the temp dir. */
export async function startPrimaryAndReplica(): Promise<{ primary: PgServer; replica: PgServer; stop(): Promise<void> }> {
  const root = pgScratch();
  const servers: PgServer[] = [];
  const stop = async () => {
    for (const s of servers.reverse()) await s.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const primaryDir = path.join(root, 'primary');
    run([path.join(PG_BIN, 'initdb'), '-D', primaryDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    const primary = await startPostgres(primaryDir, await freePort(), root);
    servers.push(primary);
    const replicaDir = path.join(root, 'replica');
    run([path.join(PG_BIN, 'pg_basebackup'), '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres', '-D', replicaDir, '-R', '-X', 'stream', '--no-sync']);
    const replica = await startPostgres(replicaDir, await freePort(), root);
    servers.push(replica);
    return { primary, replica, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
