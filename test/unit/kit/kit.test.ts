// The action kit: polling with a deadline and a signal, commands with timeouts that kill the whole process
// group and bounded output, TCP and HTTP exchanges with timeouts, restores in a finally that say what stayed
// changed, systemctl output parsing through a fake systemctl, atomic publishing with a checksum.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../core/logger.js';
import { delay } from '../../../core/delay.js';
import { AbortedError, TimeoutError } from '../../../core/errors.js';
import {
  httpJson,
  MemoryServiceManager,
  parseKeyValues,
  pollStable,
  pollUntil,
  publishFile,
  readBootId,
  RestoreError,
  runChecked,
  runCommand,
  SystemctlServiceManager,
  tcpExchange,
  verifyPublished,
  withRestore,
  partialName,
} from '../../../actions/kit/index.js';

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

const never = new AbortController().signal;

describe('kit: pollUntil / pollStable', () => {
  it('returns the value once the probe is done, and calls onPending with what it saw before', async () => {
    let n = 0;
    const seen: string[] = [];
    const v = await pollUntil(async () => (++n >= 3 ? { done: true, value: n } : { done: false, seen: `n=${n}` }), { what: 'n to reach 3', timeoutMs: 5000, intervalMs: 5, signal: never, onPending: (s) => seen.push(s) });
    assert.equal(v, 3);
    assert.deepEqual(seen, ['n=1', 'n=2']);
  });

  it('times out with the last observation (a thrown probe counts as not yet)', async () => {
    await assert.rejects(
      pollUntil(async () => {
        throw new Error('ECONNREFUSED');
      }, { what: 'the server', timeoutMs: 60, intervalMs: 10, signal: never }),
      (err: unknown) => err instanceof TimeoutError && /the server/.test(err.message) && /ECONNREFUSED/.test(err.message),
    );
  });

  it('stops at once when the signal aborts', async () => {
    const ac = new AbortController();
    const p = pollUntil(async () => ({ done: false, seen: 'waiting' }), { what: 'x', timeoutMs: 60_000, intervalMs: 10_000, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('cancelled')), 20);
    const started = Date.now();
    await assert.rejects(p, AbortedError);
    assert.ok(Date.now() - started < 5000, 'the abort did not wait for the interval');
  });

  it('pollStable restarts its settle clock when the condition flaps', async () => {
    // Good, then a bad probe that answers only once the settle time has passed since the first good one, then
    // good for good. Whatever the machine's load: a clock that did not restart would be done at the first good
    // probe after the flap; a restarted one needs good probes for the whole settle time after it.
    const settleMs = 30;
    const seen: { ok: boolean; at: number }[] = [];
    await pollStable(
      async () => {
        const n = seen.length;
        if (n === 1) {
          const first = seen[0]?.at ?? Date.now();
          while (Date.now() - first <= settleMs) await delay(settleMs);
        }
        const ok = n !== 1;
        seen.push({ ok, at: Date.now() });
        return { ok, seen: ok ? 'up' : 'down' };
      },
      settleMs,
      { what: 'stable', timeoutMs: 5000, intervalMs: 5, signal: never },
    );
    const afterFlap = seen.slice(2);
    assert.ok(afterFlap.length >= 2, `it was done ${afterFlap.length} probe(s) after the flap`);
    const first = afterFlap[0]?.at ?? 0;
    const last = afterFlap.at(-1)?.at ?? 0;
    assert.ok(last - first >= settleMs, `good for ${last - first} ms after the flap, not the ${settleMs} ms asked`);
  });
});

describe('kit: runCommand', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'taskerman-kit-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('captures stdout and stderr apart, with the exit code, through no shell', async () => {
    const r = await runCommand([process.execPath, '-e', 'process.stdout.write(process.argv[1]); process.stderr.write("err"); process.exit(3)', '$(touch PWNED); *'], { signal: never, cwd: dir });
    assert.equal(r.code, 3);
    assert.equal(r.stdout, '$(touch PWNED); *');
    assert.equal(r.stderr, 'err');
    assert.equal(existsSync(join(dir, 'PWNED')), false);
  });

  it('bounds the captured output and says it did', async () => {
    const r = await runCommand([process.execPath, '-e', 'process.stdout.write("x".repeat(100000))'], { signal: never, maxOutputBytes: 1000 });
    assert.equal(r.stdout.length, 1000);
    assert.equal(r.truncated, true);
  });

  it('passes input on stdin', async () => {
    const r = await runCommand([process.execPath, '-e', 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(s.toUpperCase()))'], { signal: never, input: 'hello' });
    assert.equal(r.stdout, 'HELLO');
  });

  it('kills the whole process group on timeout (a grandchild too)', async () => {
    const pidFile = join(dir, 'pid');
    const script = `const {spawn}=require('child_process'); const c=spawn(process.execPath,['-e','setInterval(()=>{},1000)'],{stdio:'ignore'}); require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(c.pid)); setInterval(()=>{},1000)`;
    await assert.rejects(runCommand([process.execPath, '-e', script], { signal: never, timeoutMs: 1500, killGraceMs: 200 }), TimeoutError);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    assert.ok(grandchild > 0);
    assert.ok(await gone(grandchild), 'the grandchild survived');
  });

  it('rejects with AbortedError when the signal aborts, and kills the program', async () => {
    const ac = new AbortController();
    const p = runCommand([process.execPath, '-e', 'console.log(process.pid); setInterval(()=>{},1000)'], { signal: ac.signal, killGraceMs: 200 });
    setTimeout(() => ac.abort(), 300);
    await assert.rejects(p, AbortedError);
  });

  it('runChecked throws with the command and its stderr tail on a non-zero exit; a missing binary is not retryable', async () => {
    await assert.rejects(runChecked([process.execPath, '-e', 'console.error("disk full"); process.exit(2)'], { signal: never, errorCode: 'CHECK_FAILED' }), (e: Error & { code?: string }) => e.code === 'CHECK_FAILED' && /exit code 2: disk full/.test(e.message));
    await assert.rejects(runCommand(['/nonexistent/binary'], { signal: never }), (e: Error & { retryable?: boolean }) => e.retryable === false && /cannot run \/nonexistent\/binary/.test(e.message));
  });
});

describe('kit: parseKeyValues', () => {
  it('splits on the first separator and skips headers', () => {
    const m = parseKeyValues('# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nurl:http://a:1\r\n', ':');
    assert.equal(m.get('role'), 'slave');
    assert.equal(m.get('url'), 'http://a:1');
    assert.equal(m.has('# Replication'), false);
    assert.equal(parseKeyValues('zk_server_state\tleader\nzk_synced_followers\t2\n', '\t').get('zk_synced_followers'), '2');
  });
});

describe('kit: tcpExchange and httpJson', () => {
  let server: net.Server | http.Server | undefined;
  const sockets = new Set<net.Socket>();
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });
  const listen = (s: net.Server | http.Server) =>
    new Promise<number>((resolve) => {
      server = s;
      s.on('connection', (c: net.Socket) => sockets.add(c));
      s.listen(0, '127.0.0.1', () => resolve((s.address() as net.AddressInfo).port));
    });

  it('reads until the server closes (a four-letter word)', async () => {
    const port = await listen(net.createServer((c) => c.once('data', (d) => c.end(`you said ${String(d)}`))));
    const r = await tcpExchange({ host: '127.0.0.1', port, send: 'srvr', signal: never });
    assert.equal(r.toString(), 'you said srvr');
  });

  it('stops when the answer is complete, without waiting for a close', async () => {
    const port = await listen(net.createServer((c) => c.once('data', () => c.write('+OK\r\n'))));
    const r = await tcpExchange({ host: '127.0.0.1', port, send: 'PING\r\n', signal: never, complete: (b) => b.toString().endsWith('\r\n'), timeoutMs: 3000 });
    assert.equal(r.toString(), '+OK\r\n');
  });

  it('times out on a server that never answers, and names it', async () => {
    const port = await listen(net.createServer(() => undefined));
    await assert.rejects(tcpExchange({ host: '127.0.0.1', port, send: 'srvr', signal: never, timeoutMs: 200 }), (e: Error) => e instanceof TimeoutError && e.message.includes(`127.0.0.1:${port}`));
  });

  it('fails clearly when the connection is refused', async () => {
    const port = await listen(net.createServer());
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    await assert.rejects(tcpExchange({ host: '127.0.0.1', port, send: 'x', signal: never }), /ECONNREFUSED/);
  });

  it('httpJson parses JSON, refuses a 500 with its status, and times out', async () => {
    const port = await listen(
      http.createServer((req, res) => {
        if (req.url === '/ok') return void res.end(JSON.stringify({ status: 'green' }));
        if (req.url === '/slow') return; // never answers
        res.statusCode = 500;
        res.end('boom');
      }),
    );
    const ok = await httpJson<{ status: string }>(`http://127.0.0.1:${port}/ok`, { signal: never });
    assert.equal(ok.body.status, 'green');
    await assert.rejects(httpJson(`http://127.0.0.1:${port}/bad`, { signal: never }), /HTTP 500: boom/);
    await assert.rejects(httpJson(`http://127.0.0.1:${port}/slow`, { signal: never, timeoutMs: 200 }), TimeoutError);
  });
});

describe('kit: withRestore', () => {
  it('undoes newest first, after a success too', async () => {
    const order: string[] = [];
    const v = await withRestore(silentLogger, async (r) => {
      r.add('setting a', async () => void order.push('a'));
      r.add('setting b', async () => void order.push('b'));
      return 42;
    });
    assert.equal(v, 42);
    assert.deepEqual(order, ['b', 'a']);
  });

  it('runs the undos after the step failed, and keeps the step error when all went back', async () => {
    const order: string[] = [];
    await assert.rejects(
      withRestore(silentLogger, async (r) => {
        r.add('setting a', async () => void order.push('a'));
        throw new Error('step broke');
      }),
      /^Error: step broke$|step broke/,
    );
    assert.deepEqual(order, ['a']);
  });

  it('says what could not be restored, with the step error first, and still runs the other undos', async () => {
    const order: string[] = [];
    await assert.rejects(
      withRestore(silentLogger, async (r) => {
        r.add('allocation back to all', async () => void order.push('allocation'));
        r.add('unit cassandra unmasked', async () => {
          throw new Error('permission denied');
        });
        throw new Error('step broke');
      }),
      (e: unknown) => e instanceof RestoreError && e.notRestored.length === 1 && /^step broke; NOT RESTORED.*unit cassandra unmasked \(permission denied\)/.test(e.message),
    );
    assert.deepEqual(order, ['allocation']);
  });

  it('gives an undo its own signal, not the aborted one of the action', async () => {
    let sawAborted: boolean | undefined;
    await withRestore(silentLogger, async (r) => {
      r.add('x', async (signal) => void (sawAborted = signal.aborted));
    });
    assert.equal(sawAborted, false);
  });
});

describe('kit: service managers', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'taskerman-kit-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('SystemctlServiceManager reads `systemctl show` and runs jobs as argv (through a fake systemctl)', async () => {
    const log = join(dir, 'calls');
    const fake = join(dir, 'systemctl');
    writeFileSync(
      fake,
      `#!/bin/sh\necho "$@" >> ${log}\nif [ "$1" = show ]; then printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\nInvocationID=abc123\\nNRestarts=2\\nMainPID=77\\n'; fi\n`,
    );
    chmodSync(fake, 0o755);
    const sm = new SystemctlServiceManager({ systemctl: fake });
    const s = await sm.status('zookeeper.service', never);
    assert.deepEqual(s, { unit: 'zookeeper.service', loadState: 'loaded', activeState: 'active', subState: 'running', invocationId: 'abc123', nRestarts: 2, mainPid: 77 });
    await sm.restart('zookeeper.service', never);
    assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), ['show --no-pager -p LoadState,ActiveState,SubState,InvocationID,NRestarts,MainPID -- zookeeper.service', 'restart -- zookeeper.service']);
    await assert.rejects(sm.restart('a b; rm -rf /', never), /not a systemd unit name/);
  });

  it('SystemctlServiceManager fails a job that exits non-zero with its stderr', async () => {
    const fake = join(dir, 'systemctl');
    writeFileSync(fake, '#!/bin/sh\necho "Job for x.service failed" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    await assert.rejects(new SystemctlServiceManager({ systemctl: fake }).restart('x.service', never), /Job for x.service failed/);
  });

  it('MemoryServiceManager gives a restarted unit a new invocation and reports unknown units as not-found', async () => {
    let hooked = 0;
    const sm = new MemoryServiceManager({ 'a.service': { onRestart: async () => void hooked++ } });
    const before = await sm.status('a.service', never);
    await sm.restart('a.service', never);
    const after = await sm.status('a.service', never);
    assert.equal(after.activeState, 'active');
    assert.notEqual(after.invocationId, before.invocationId);
    assert.equal(hooked, 1);
    assert.equal((await sm.status('nope.service', never)).loadState, 'not-found');
  });
});

describe('kit: publish and boot id', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'taskerman-kit-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('publishes under the final name only with its checksum, and verification catches a changed file', async () => {
    const final = join(dir, 'db.dump');
    writeFileSync(partialName(final), 'dump bytes');
    assert.equal(existsSync(final), false);
    const { sha256, bytes } = await publishFile(partialName(final), final);
    assert.equal(bytes, 10);
    assert.equal(existsSync(partialName(final)), false);
    assert.equal(readFileSync(final + '.sha256', 'utf8'), `${sha256}  db.dump\n`);
    assert.equal(await verifyPublished(final), sha256);
    appendFileSync(final, 'x');
    await assert.rejects(verifyPublished(final), /does not match its checksum/);
  });

  it('reads the boot id (this machine has one) and a configured file', async () => {
    assert.match(await readBootId(), /^[0-9a-f-]{36}$/);
    const f = join(dir, 'boot_id');
    writeFileSync(f, 'abc\n');
    assert.equal(await readBootId(f), 'abc');
    await assert.rejects(readBootId(join(dir, 'missing')), /cannot read the boot id/);
  });
});
