// CLI weight: wall time and peak memory of the commands an on-call types, each run --runs times as a user
// runs it (bin/taskerman.js: the compiled dist/ when built), median reported. `status` and `run --wait` go
// against a real ZooKeeper server, an SQS-protocol server and a router and a runner started beforehand.
// Peak memory and CPU time (user + system) come from GNU time (/usr/bin/time) when installed: on a loaded
// machine the CPU time moves much less than the wall time, so it tells a real change from noise. A last line
// splits `run --wait` into phases from its task's recorded times (`--json`): the CLI until it sends, the
// router, the runner, and the CLI from the task's end to its exit.
//
//   npm run bench:cli -- [--runs 5]
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startZkServer } from '../test/support/zk-server.js';
import { cliEnv, median, REPO, startCountingSqs, startDaemon, type Daemon } from './bench-support.js';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(values.runs);
const GNU_TIME = '/usr/bin/time';
const hasTime = existsSync(GNU_TIME);

interface Run {
  ms: number;
  maxRssKiB: number;
  cpuMs: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

function once(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const cmd = hasTime ? GNU_TIME : process.execPath;
  const argv = hasTime ? ['-f', '%M %U %S', process.execPath, 'bin/taskerman.js', ...args] : ['bin/taskerman.js', ...args];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, argv, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(killer);
      const ms = performance.now() - t0;
      let maxRssKiB = NaN;
      let cpuMs = NaN;
      if (hasTime) {
        const lines = stderr.trimEnd().split('\n');
        const [rss, user, sys] = (lines.pop() ?? '').split(' ').map(Number);
        maxRssKiB = rss ?? NaN;
        cpuMs = ((user ?? NaN) + (sys ?? NaN)) * 1000;
        stderr = lines.join('\n');
      }
      resolve({ ms, maxRssKiB, cpuMs, code, stdout, stderr });
    });
  });
}

const zk = await startZkServer();
const sqs = await startCountingSqs();
const daemons: Daemon[] = [];
try {
  const env = cliEnv(zk.connectionString, sqs.endpoint);
  daemons.push(await startDaemon(['router'], env, /router started/));
  daemons.push(await startDaemon(['runner', '--cluster', 'bench:cli', '--node', 'a1'], env, /runner started/));
  // One task first, so `status` has one to show and the node queues exist (as on any day but the first).
  const first = await once(['run', 'noop', '--cluster', 'bench:cli', '--destnode', 'a1', '--wait'], env);
  const taskId = first.stdout.split('\n')[0]?.trim() ?? '';
  if (first.code !== 0 || !taskId) throw new Error(`the first run --wait failed (${first.code}): ${first.stderr}`);

  const commands: Array<{ label: string; args: string[] }> = [
    { label: '--version', args: ['--version'] },
    { label: '--help', args: ['--help'] },
    { label: 'validate examples/tasks', args: ['validate', 'examples/tasks'] },
    { label: 'status <task>', args: ['status', taskId] },
    { label: 'tasks', args: ['tasks'] },
    { label: 'run noop --destnode a1 --wait', args: ['run', 'noop', '--cluster', 'bench:cli', '--destnode', 'a1', '--wait'] },
  ];
  console.log(`cli: median of ${RUNS} runs each, node ${process.version}, ${existsSync(`${REPO}/dist/cli/main.js`) ? 'compiled dist/' : 'sources through tsx (no dist/: npm run build)'}; load average ${os.loadavg()[0]?.toFixed(2)} (a loaded machine inflates the times)`);
  for (const c of commands) {
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await once(c.args, env));
    const bad = runs.find((r) => r.code !== 0);
    const extra = runs.find((r) => r.stderr.trim() !== '' && !c.args.includes('--wait'));
    console.log(
      `${c.label.padEnd(32)} ${median(runs.map((r) => r.ms)).toFixed(0).padStart(6)} ms  ${hasTime ? `${(median(runs.map((r) => r.maxRssKiB)) / 1024).toFixed(1).padStart(6)} MiB peak ${median(runs.map((r) => r.cpuMs)).toFixed(0).padStart(5)} ms cpu` : '(no /usr/bin/time: no peak memory nor cpu)'}` +
        `${bad ? `  EXIT ${bad.code}: ${bad.stderr.slice(0, 200)}` : ''}${extra ? `  stderr: ${extra.stderr.slice(0, 200)}` : ''}`,
    );
  }

  // Where the wall time of `run --wait` goes, from the times the task's records carry (one clock: all on this
  // machine, the SQS server's receipt of the send included): the CLI's start-up until it emits the task (stamps it
// and calls send, the SDK still loading), the send, the router, the runner, and the CLI seeing the end and exiting.
  const phases: number[][] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = Date.now();
    const r = await once(['run', 'noop', '--cluster', 'bench:cli', '--destnode', 'a1', '--wait', '--json'], env);
    const end = Date.now();
    if (r.code !== 0) throw new Error(`run --wait --json failed (${r.code}): ${r.stderr}`);
    const s = JSON.parse(r.stdout) as { emitted_at: string; routed_at: string; ended_at: string; nodes: Array<{ started_at: string; ended_at: string }> };
    const node = s.nodes[0];
    if (!node) throw new Error('run --wait --json: no node in the status');
    // The SQS server's receipt of the task's SendMessage (nothing else sends to the global queue here).
    const sent = sqs.lastSendAt.get('taskerman--global');
    if (sent === undefined || sent < t0) throw new Error('run --wait --json: the SQS server saw no SendMessage to taskerman--global');
    const at = [t0, Date.parse(s.emitted_at), sent, Date.parse(s.routed_at), Date.parse(node.started_at), Date.parse(node.ended_at), Date.parse(s.ended_at), end];
    phases.push(at.slice(1).map((t, k) => t - (at[k] as number)));
  }
  const names = ['start → emitted', 'emitted → sent (SQS transport load, first call)', 'sent → routed (router)', 'routed → node started', 'node started → ended', 'node ended → task ended', 'task ended → CLI exit'];
  console.log(`run --wait phases (median of ${RUNS}, from the task's records): ${names.map((n, k) => `${n} ${median(phases.map((p) => p[k] as number)).toFixed(0)} ms`).join(', ')}`);
} finally {
  await Promise.allSettled(daemons.map((d) => d.stop()));
  await sqs.stop();
  await zk.stop();
}
