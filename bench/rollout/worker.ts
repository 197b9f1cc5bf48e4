// A child process of the rollout benchmark (`--procs`): one host (local-host.ts) driven over IPC by the parent
// (remote-host.ts). It exits when asked to stop, and at once when the parent goes away (the IPC channel
// closes), so a benchmark killed in any way leaves no child behind. Its stdout is the parent's stderr.
//
//   node --import tsx bench/rollout/worker.ts <label>     (spawned by bench/rollout.ts, not run by hand)
import type { HostAnswer, HostRequest } from './ipc.js';
import { LocalHost } from './local-host.js';

if (!process.send) {
  process.stderr.write('bench/rollout/worker.ts is spawned by bench/rollout.ts --procs, with an IPC channel\n');
  process.exit(2);
}
const label = process.argv[2] ?? 'worker';
let host: LocalHost | undefined;

const answer = (a: HostAnswer, then?: () => void) => process.send?.(a, undefined, {}, () => then?.());

async function handle(req: HostRequest): Promise<unknown> {
  if (req.op === 'start') {
    if (host) throw new Error(`${label}: already started`);
    host = await LocalHost.start(req.plan);
    return { sqsEndpoint: host.sqsEndpoint };
  }
  if (!host) throw new Error(`${label}: not started`);
  switch (req.op) {
    case 'sqsCounts':
      return host.sqsCounts();
    case 'measure':
      return host.measure(req.taskIds);
    case 'collect':
      return host.collect();
    case 'stop':
      return host.stop();
  }
}

process.on('message', (req: HostRequest) => {
  handle(req).then(
    (result) => answer({ id: req.id, ok: true, result: result ?? null }, req.op === 'stop' ? () => process.exit(0) : undefined),
    (err: unknown) => answer({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) }),
  );
});
// The parent went away (it exited, crashed or was killed): nothing will stop us but us.
process.on('disconnect', () => process.exit(1));
// Ctrl-C reaches the whole process group: the parent stops its children itself (and a --cpu-prof is written
// only by an orderly exit).
process.on('SIGINT', () => undefined);
