// `taskerman dev`: every component in one process on in-memory backends with simulated nodes. With --demo
// it submits a rolling `sleep` over 12 nodes, `limit: 2`, shows progress, and exits 0 when every node has
// succeeded; with a spec file it runs that spec on simulated nodes.
import { Command } from 'commander';
import { StaticDiscovery } from '../../core/discovery/discovery.js';
import { currentUser, emitTask } from '../../core/task/emit.js';
import { InterruptedError, OptionError } from '../../core/errors.js';
import { dirname, resolve as resolvePath } from 'node:path';
import { readConfigFile } from '../config.js';
import { useColour } from '../output/colour.js';
import { createLogger } from '../../core/logger.js';
import { loadTaskSpecFile, parseTaskSpec, type TaskSpec } from '../../core/task/task-spec.js';
import { LOG_LEVELS } from '../../core/logger.js';
import { createEmbedded } from '../embedded.js';
import { statusText } from '../status-view.js';
import { taskOutcome, waitForTask } from '../wait.js';
import { checkAction } from '../check-action.js';

function positive(field: string, v: string, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new OptionError(field, `must be a number above 0 and at most ${max}`);
  return n;
}

export function demoSpec(nodes: string[], cluster: string, limit: number, seconds: number): TaskSpec {
  return parseTaskSpec({ name: 'demo-rolling-sleep', action: 'sleep', cluster, nodes, limit, max_failures: 1, args: { seconds }, owner: 'demo', timeout: '5m' }, '(demo)');
}

export function devCommand(): Command {
  return new Command('dev')
    .description('run everything in one process on in-memory backends with simulated nodes (nothing to install)')
    .argument('[spec]', 'a task spec to run on simulated nodes')
    .option('--demo', 'run the demo: a rolling sleep over 12 simulated nodes, 2 at a time')
    .option('--nodes <n>', 'simulated nodes (for the demo, or for a spec that discovers its targets)', '12')
    .option('--cluster <name>', 'cluster of the demo', 'demo:cassandra')
    .option('--limit <n>', 'limit of the demo', '2')
    .option('--seconds <s>', "each node's sleep in the demo (and of a simulated exec)", '2')
    .option('--inventory-root <dir>', "directory a static spec's `inventory:` path is relative to (default: the spec file's directory)")
    .option('--config <file.yaml>', "a runner config whose exec allowlist the simulated runners use (e.g. examples/runner-config.yaml)")
    .option('--log-level <level>', 'log level of the components (pretty, on stderr)', 'warn')
    .action(async (file: string | undefined, o: { demo?: boolean; nodes: string; cluster: string; limit: string; seconds: string; logLevel: string; inventoryRoot?: string; config?: string }) => {
      if (!(LOG_LEVELS as readonly string[]).includes(o.logLevel)) throw new OptionError('log-level', `must be one of ${LOG_LEVELS.join(', ')}`);
      if (!file && !o.demo) throw new OptionError('dev', 'give --demo, or a spec file to run on simulated nodes');
      const count = positive('nodes', o.nodes, 1000);
      let spec: TaskSpec;
      let nodes: string[];
      const inventoryRoot = resolvePath(o.inventoryRoot ?? (file ? dirname(file) : process.cwd()));
      const execAllowlist = o.config ? (readConfigFile(o.config).exec?.commands ?? {}) : undefined;
      const generated = Array.from({ length: count }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);
      if (file) {
        spec = await loadTaskSpecFile(file);
        if (spec.discovery === 'explicit') nodes = spec.nodes;
        else if (spec.discovery === 'static') nodes = await new StaticDiscovery(inventoryRoot).resolve(spec);
        else {
          // Simulated members; aws_tags is answered by them too, since there is no EC2 here.
          nodes = generated;
          if (spec.discovery === 'aws_tags') spec = { ...spec, discovery: 'members' };
        }
      } else {
        nodes = generated;
        spec = demoSpec(nodes, o.cluster, positive('limit', o.limit, 1000), positive('seconds', o.seconds, 3600));
      }
      checkAction(spec);
      const say = (line: string) => process.stderr.write(`${line}\n`);
      const logger = createLogger({ level: o.logLevel as (typeof LOG_LEVELS)[number], pretty: true });
      const seconds = positive('seconds', o.seconds, 3600);
      if (spec.action === 'exec' && !execAllowlist) say(`taskerman dev: no --config: exec is simulated (each node waits ${seconds}s); give a runner config to run its allowlist for real`);
      const env = createEmbedded({ logger, clusters: { [spec.cluster]: nodes }, inventoryRoot, ...(execAllowlist ? { execAllowlist } : { simulateExecSeconds: seconds }) });
      say(`taskerman dev: router + ${nodes.length} runners of ${spec.cluster} in one process (in-memory queues and coordinator)`);
      await env.start();
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      try {
        const task = await emitTask(env.queue, env.names, spec, { kind: 'cli', user: currentUser() });
        say(`submitted ${spec.action} to ${nodes.length} nodes, limit ${spec.limit.kind === 'count' ? spec.limit.value : `${spec.limit.value}%`}: task ${task.taskId}`);
        const r = await waitForTask(env.store, task.taskId, { out: say, signal: ac.signal });
        if (!r) throw new InterruptedError('interrupted');
        process.stdout.write(`${statusText(r.task, r.nodes, { colour: useColour(process.stdout) })}\n`);
        taskOutcome(r);
      } finally {
        process.off('SIGINT', onSignal);
        await env.stop();
      }
    });
}
