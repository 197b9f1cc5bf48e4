// A real three-member ZooKeeper ensemble for tests (Debian's `zookeeper` package), apart from the
// coordination ZooKeeper of the suite: each member has its own client, quorum and election ports on
// 127.0.0.1, its own data dir with its myid, the four-letter words the actions read whitelisted, and the
// AdminServer off. Members can be stopped and started (a "systemctl restart" for the actions under test);
// the whole ensemble is ready when every member serves as leader or follower.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { srvr } from '../../actions/zookeeper/zk-admin.js';
import { freePort } from './zk-server.js';
import { waitExit } from './processes.js';

const ZK_JAR = '/usr/share/java/zookeeper.jar';
const SLF4J_JAR = '/usr/share/java/slf4j-simple.jar';
const READY_TIMEOUT_MS = 120_000;

export interface EnsembleMember {
  id: number;
  clientPort: number;
  address: string;
  running(): boolean;
  /** Spawns the JVM (does not wait for it to serve). */
  start(): void;
  /** SIGTERM, SIGKILL after a grace; resolves when the process is gone. */
  stop(): Promise<void>;
}

export interface Ensemble {
  members: EnsembleMember[];
  connectionString: string;
  /** Waits (bounded) until every running member serves as leader or follower; returns each one's mode. */
  waitServing(timeoutMs?: number): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startEnsemble(size = 3): Promise<Ensemble> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'taskerman-zk-ensemble-'));
  const ports: Array<{ id: number; client: number; peer: number; election: number }> = [];
  for (let i = 1; i <= size; i++) ports.push({ id: i, client: await freePort(), peer: await freePort(), election: await freePort() });
  const servers = ports.map((p) => `server.${p.id}=127.0.0.1:${p.peer}:${p.election}`);
  const members: EnsembleMember[] = [];
  const children = new Map<number, ChildProcess>();
  const killAll = () => {
    for (const c of children.values()) c.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const p of ports) {
    const dir = path.join(root, `zk${p.id}`);
    await mkdir(path.join(dir, 'data'), { recursive: true });
    await writeFile(path.join(dir, 'data', 'myid'), `${p.id}\n`);
    const cfg = path.join(dir, 'zoo.cfg');
    await writeFile(
      cfg,
      [
        'tickTime=500',
        'initLimit=20',
        'syncLimit=10',
        `dataDir=${path.join(dir, 'data')}`,
        `clientPort=${p.client}`,
        'clientPortAddress=127.0.0.1',
        'admin.enableServer=false',
        '4lw.commands.whitelist=srvr,mntr,ruok,stat',
        'maxClientCnxns=0',
        'forceSync=no',
        'preAllocSize=4096',
        ...servers,
        '',
      ].join('\n'),
    );
    const log = path.join(dir, 'zookeeper.log');
    members.push({
      id: p.id,
      clientPort: p.client,
      address: `127.0.0.1:${p.client}`,
      running: () => {
        const c = children.get(p.id);
        return c !== undefined && c.exitCode === null && c.signalCode === null;
      },
      start() {
        const c = children.get(p.id);
        if (c && c.exitCode === null && c.signalCode === null) return;
        const fd = openSync(log, 'a');
        try {
          children.set(p.id, spawn('java', ['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', `${ZK_JAR}:${SLF4J_JAR}`, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg], { stdio: ['ignore', fd, fd] }));
        } finally {
          closeSync(fd);
        }
      },
      async stop() {
        const c = children.get(p.id);
        if (!c) return;
        children.delete(p.id);
        c.kill('SIGTERM');
        if (!(await waitExit(c, 5000))) {
          c.kill('SIGKILL');
          await waitExit(c, 5000);
        }
      },
    });
  }
  const waitServing = async (timeoutMs = READY_TIMEOUT_MS): Promise<string[]> => {
    const deadline = Date.now() + timeoutMs;
    const signal = new AbortController().signal;
    for (;;) {
      const modes = await Promise.all(members.map((m) => (m.running() ? srvr({ host: '127.0.0.1', port: m.clientPort }, { signal, timeoutMs: 2000 }).then((s) => s.mode, () => 'down') : Promise.resolve('stopped'))));
      if (modes.every((m) => m === 'leader' || m === 'follower' || m === 'stopped') && modes.includes('leader')) return modes;
      if (Date.now() > deadline) {
        const tails = await Promise.all(ports.map((p) => readFile(path.join(root, `zk${p.id}`, 'zookeeper.log'), 'utf8').then((t) => `zk${p.id}: ${t.slice(-600)}`, () => '')));
        throw new Error(`ensemble not serving after ${timeoutMs} ms: ${modes.join(', ')}\n${tails.join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const stop = async () => {
    await Promise.all(members.map((m) => m.stop()));
    process.off('exit', killAll);
    await rm(root, { recursive: true, force: true });
  };
  for (const m of members) m.start();
  try {
    await waitServing();
  } catch (err) {
    await stop();
    throw err;
  }
  return { members, connectionString: members.map((m) => m.address).join(','), waitServing, stop };
}
