// The chaos suite's command line (`npm run chaos -- --rounds N`): a thin wrapper around runChaos that
// parses the arguments and maps the summary to the exit code (0: no violation, no loss, no timeout).
//
//   npm run chaos -- --rounds 20 [--nodes 10] [--limit 2] [--seed 1] [--max-seconds 1800]
//                    [--faults kill-runner,zk-restart] [--log-level debug] [--keep-logs]
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { runChaos } from './chaos-driver.js';
import { FAULT_KINDS, isFaultKind, type FaultKind } from './faults.js';

export { runChaos, type ChaosOptions, type ChaosSummary } from './chaos-driver.js';

const USAGE = `usage: npm run chaos -- --rounds N [--nodes 10] [--limit 2] [--seed S] [--max-seconds T] [--faults k1,k2[/k3...]] [--log-level L] [--keep-logs]
  fault kinds: ${FAULT_KINDS.join(', ')} (--faults forces them; "/" separates the lists of successive rounds)`;

function positive(name: string, v: string | undefined, fallback: number): number {
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be a positive integer, got ${String(v)}\n${USAGE}`);
  return n;
}

function parseFaults(v: string | undefined): FaultKind[][] | undefined {
  if (!v) return undefined;
  return v.split('/').map((group) =>
    group.split(',').map((k) => {
      if (!isFaultKind(k)) throw new RangeError(`--faults: unknown fault "${k}"\n${USAGE}`);
      return k;
    }),
  );
}

export async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string', default: '10' },
      nodes: { type: 'string' },
      limit: { type: 'string' },
      seed: { type: 'string' },
      'max-seconds': { type: 'string' },
      faults: { type: 'string' },
      'log-level': { type: 'string' },
      'keep-logs': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  // The SDK's notice that it will need a newer Node one day, once per process: noise in a run's output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const summary = await runChaos({
    rounds: positive('rounds', values.rounds, 10),
    nodes: positive('nodes', values.nodes, 10),
    limit: positive('limit', values.limit, 2),
    seed: positive('seed', values.seed, 1),
    maxSeconds: values['max-seconds'] === undefined ? undefined : positive('max-seconds', values['max-seconds'], 1),
    faults: parseFaults(values.faults),
    logLevel: values['log-level'],
    keepLogs: values['keep-logs'],
  });
  return summary.ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`chaos: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
}
