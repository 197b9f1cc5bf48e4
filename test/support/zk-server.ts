// A real ZooKeeper server for tests: Debian's `zookeeper` package started standalone on a free loopback
// port with its own temporary data dir, ready when `srvr` says `Mode: standalone`, restartable on the same
// port and data (sessions survive a short restart, as in production), and killed if the test process exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, existsSync, openSync, closeSync } from 'node:fs';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { onPath, waitExit } from './processes.js';

const ZK_JAR = '/usr/share/java/zookeeper.jar';
const SLF4J_JAR = '/usr/share/java/slf4j-simple.jar';
const READY_TIMEOUT_MS = 20_000;
const POLL_MS = 50;
const PROBE_TIMEOUT_MS = 1_000;
const TERM_GRACE_MS = 3_000;
const LOG_TAIL_CHARS = 3_000;

export interface ZkServer {
  /** `127.0.0.1:<port>` */
  readonly connectionString: string;
  readonly port: number;
  /** The server's process id while it runs (benchmarks read its CPU time from /proc). */
  readonly pid: number | undefined;
  /** ZooKeeper's data dir (snapshots, transaction log); kept across `restart()`. */
  readonly dataDir: string;
  /** Starts the server when it is not running (`startZkServer` already started it); fails after the final `stop()`. */
  start(): Promise<void>;
  /** Stops the server for good and removes its temporary dir. */
  stop(): Promise<void>;
  /** Stops the server but keeps its port and data dir: an outage that `start()` ends. */
  halt(): Promise<void>;
  /** Stops and starts again on the same port and data dir (sessions shorter than their timeout survive). */
  restart(downMs?: number): Promise<void>;
}

export function zookeeperAvailable(): boolean {
  return onPath('java') && existsSync(ZK_JAR);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not pick a free port'))));
    });
  });
}

/** Sends a four-letter command and reads the answer until the server hangs up; '' when it does not answer. */
function fourLetter(port: number, cmd: string): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = net.connect({ host: '127.0.0.1', port });
    const finish = () => {
      sock.destroy();
      resolve(Buffer.concat(chunks).toString('utf8'));
    };
    sock.setTimeout(PROBE_TIMEOUT_MS, finish);
    sock.on('connect', () => sock.write(cmd));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', finish);
    sock.on('close', finish);
  });
}

async function logTail(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.slice(-LOG_TAIL_CHARS);
}


class LocalZkServer implements ZkServer {
  private child: ChildProcess | undefined;
  private restartPending = false;
  private removed = false;
  private readonly killOnExit = () => {
    this.child?.kill('SIGKILL');
  };

  constructor(
    readonly port: number,
    private readonly tempDir: string,
  ) {}

  get connectionString(): string {
    return `127.0.0.1:${this.port}`;
  }
  get pid(): number | undefined {
    return this.child?.pid;
  }
  get dataDir(): string {
    return path.join(this.tempDir, 'data');
  }
  private get configFile(): string {
    return path.join(this.tempDir, 'zoo.cfg');
  }
  private get logFile(): string {
    return path.join(this.tempDir, 'zookeeper.log');
  }

  async writeConfig(): Promise<void> {
    const cfg = [
      'tickTime=500',
      `dataDir=${this.dataDir}`,
      `clientPort=${this.port}`,
      'clientPortAddress=127.0.0.1',
      'admin.enableServer=false',
      '4lw.commands.whitelist=ruok,srvr',
      'minSessionTimeout=1000',
      'maxSessionTimeout=60000',
      // Every simulated runner is its own session from 127.0.0.1; the default cap is 60 per address.
      'maxClientCnxns=0',
      // A throw-away data dir: skip the fsync per write, whose latency here is the VM's disk, not ZooKeeper's.
      'forceSync=no',
      // The transaction log is preallocated in steps of this many KB (default 64 MB of zeros per file).
      'preAllocSize=4096',
      '',
    ].join('\n');
    await writeFile(this.configFile, cfg);
  }

  async start(): Promise<void> {
    if (this.removed) throw new Error(`ZooKeeper test server on port ${this.port} was stopped for good`);
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) return;
    const log = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn('java', ['-cp', `${ZK_JAR}:${SLF4J_JAR}`, 'org.apache.zookeeper.server.ZooKeeperServerMain', this.configFile], {
        stdio: ['ignore', log, log],
      });
    } finally {
      closeSync(log);
    }
    this.child = child;
    process.on('exit', this.killOnExit);
    let spawnError: Error | undefined;
    child.once('error', (err) => (spawnError = err));

    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (spawnError || child.exitCode !== null || child.signalCode !== null) {
        process.off('exit', this.killOnExit);
        const why = spawnError ? spawnError.message : `exited with ${child.exitCode ?? child.signalCode}`;
        throw new Error(`ZooKeeper test server ${why}; log tail:\n${await logTail(this.logFile)}`);
      }
      if ((await fourLetter(this.port, 'srvr')).includes('Mode: standalone')) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`ZooKeeper test server not ready on port ${this.port} after ${READY_TIMEOUT_MS} ms; log tail:\n${await logTail(this.logFile)}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. */
  private async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, TERM_GRACE_MS))) {
        child.kill('SIGKILL');
        await waitExit(child, TERM_GRACE_MS);
      }
    }
    process.off('exit', this.killOnExit);
  }

  async halt(): Promise<void> {
    await this.kill();
  }

  async stop(): Promise<void> {
    await this.kill();
    if (this.restartPending || this.removed) return;
    this.removed = true;
    await rm(this.tempDir, { recursive: true, force: true });
  }

  /** Stops the server, keeps it down `downMs` (an outage shorter or longer than a session timeout), starts it again. */
  async restart(downMs = 0): Promise<void> {
    this.restartPending = true;
    try {
      await this.stop();
    } finally {
      this.restartPending = false;
    }
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.start();
  }
}

/**
 * Where the throw-away data dir goes: memory (/dev/shm) when the machine has it, so that the transaction log
 * and snapshots cost no disk I/O (on a VM's disk that wait showed up as 40 ms per ZooKeeper write under load).
 */
async function scratchRoot(): Promise<string> {
  try {
    await access('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return os.tmpdir();
  }
}

/** Starts a standalone ZooKeeper on 127.0.0.1 (on `opts.port`, else a free port) with a fresh data dir. */
export async function startZkServer(opts: { port?: number } = {}): Promise<ZkServer> {
  const port = opts.port ?? (await freePort());
  const tempDir = await mkdtemp(path.join(await scratchRoot(), 'taskerman-zk-'));
  const server = new LocalZkServer(port, tempDir);
  try {
    await server.writeConfig();
    await server.start();
  } catch (err) {
    await rm(tempDir, { recursive: true, force: true });
    throw err;
  }
  return server;
}
