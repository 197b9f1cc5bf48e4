// `taskerman dev`: every component in one process on in-memory backends with simulated nodes. With --demo
// it applies a cluster policy (`budget: 2`) and submits two tasks together — a rolling restart and a backup
// of the same 12 nodes, each `limit: 2` — shows both sharing the one budget, and exits 0 when every node of
// both has succeeded; with a spec file it runs that spec on simulated nodes (under --policy, if given).
import { Command } from 'commander';
import { parsePolicy, loadPolicyFile, type ClusterPolicy } from '../../core/budget/policy.js';
import { dirname, resolve as resolvePath } from 'node:path';
import { StaticDiscovery } from '../../core/discovery/discovery.js';
import { currentUser, emitTask } from '../../core/task/emit.js';
import { InterruptedError, OptionError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { loadTaskSpecFile, parseTaskSpec, type TaskSpec } from '../../core/task/task-spec.js';
import { LOG_LEVELS } from '../../core/logger.js';
import { validateZone } from '../config.js';
import { readRunnerConfigFile } from '../runner-config.js';
import { followTasks } from '../demo-progress.js';
import { createEmbedded } from '../embedded.js';
import { EXIT, ExitError } from '../handle-error.js';
import { statusText } from '../status-view.js';
import { useColour } from '../output/colour.js';
import { checkAction } from '../check-action.js';

function positive(field: string, v: string, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new OptionError(field, `must be a number above 0 and at most ${max}`);
  return n;
}

/** The demo's two tasks on the same nodes: a rolling restart and a backup, each with its own limit. */
export function demoSpecs(nodes: string[], cluster: string, limit: number, seconds: number): TaskSpec[] {
  const spec = (name: string, owner: string) =>
    parseTaskSpec({ name, action: 'sleep', cluster, nodes, limit, max_failures: 1, args: { seconds }, owner, timeout: '5m' }, '(demo)');
  return [spec('demo-rolling-restart', 'demo'), spec('demo-backup', 'demo-backup')];
}

export function devCommand(): Command {
  return new Command('dev')
    .description('run everything in one process on in-memory backends with simulated nodes (nothing to install)')
    .argument('[spec]', 'a task spec to run on simulated nodes')
    .option('--demo', 'run the demo: a rolling restart and a backup of 12 simulated nodes submitted together, sharing a cluster budget of 2')
    .option('--nodes <n>', 'simulated nodes (for the demo, or for a spec that discovers its targets)', '12')
    .option('--cluster <name>', 'cluster of the demo', 'demo:cassandra')
    .option('--limit <n>', "each demo task's limit", '2')
    .option('--budget <n>', 'the demo cluster policy\'s budget (nodes disrupted at once by both tasks together)', '2')
    .option('--seconds <s>', "each node's sleep in the demo", '1')
    .option('--zones <list>', 'spread the simulated nodes over these zones, round-robin (e.g. a,b,c)')
    .option('--policy <file>', "a cluster policy to apply to the simulated cluster first (instead of the demo's)")
    .option('--inventory-root <dir>', "directory a static spec's `inventory:` path is relative to (default: the spec file's directory)")
    .option('--config <file.yaml>', "a runner config: the simulated runners use its `checks:` (a policy's health gate) and its exec allowlist (without one, exec is simulated)")
    .option('--log-level <level>', 'log level of the components (pretty, on stderr)', 'warn')
    .action(
      async (
        file: string | undefined,
        o: { demo?: boolean; nodes: string; cluster: string; limit: string; budget: string; seconds: string; zones?: string; policy?: string; config?: string; inventoryRoot?: string; logLevel: string },
      ) => {
        if (!(LOG_LEVELS as readonly string[]).includes(o.logLevel)) throw new OptionError('log-level', `must be one of ${LOG_LEVELS.join(', ')}`);
        if (!file && !o.demo) throw new OptionError('dev', 'give --demo, or a spec file to run on simulated nodes');
        const count = positive('nodes', o.nodes, 1000);
        let specs: TaskSpec[];
        let nodes: string[];
        const generated = Array.from({ length: count }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);
        let policy: ClusterPolicy | undefined = o.policy ? await loadPolicyFile(o.policy) : undefined;
        const inventoryRoot = resolvePath(o.inventoryRoot ?? (file ? dirname(file) : process.cwd()));
        const config = o.config ? readRunnerConfigFile(o.config) : undefined;
        const execAllowlist = config?.exec?.commands;
        if (file) {
          let spec = await loadTaskSpecFile(file);
          if (spec.discovery === 'explicit') nodes = spec.nodes;
          else if (spec.discovery === 'static') nodes = await new StaticDiscovery(inventoryRoot).resolve(spec);
          else {
            // Simulated members; aws_tags is answered by them too, since there is no EC2 here.
            nodes = generated;
            if (spec.discovery === 'aws_tags') spec = { ...spec, discovery: 'members' };
          }
          specs = [spec];
        } else {
          nodes = generated;
          specs = demoSpecs(nodes, o.cluster, positive('limit', o.limit, 1000), positive('seconds', o.seconds, 3600));
          policy ??= parsePolicy({ cluster: o.cluster, budget: positive('budget', o.budget, 1000) }, '(demo policy)');
        }
        const cluster = (specs[0] as TaskSpec).cluster;
        if (policy && policy.cluster !== cluster) throw new OptionError('policy', `${o.policy} is the policy of ${policy.cluster}, not of ${cluster}`);
        for (const s of specs) await checkAction(s);
        const zoneList = o.zones ? o.zones.split(',').map((z) => validateZone(z.trim(), 'zones')) : [];
        const zones = Object.fromEntries(zoneList.length ? nodes.map((n, i) => [n, zoneList[i % zoneList.length] as string]) : []);
        const checks = config?.checks ?? {};
        const seconds = positive('seconds', o.seconds, 3600);
        const logger = createLogger({ level: o.logLevel as (typeof LOG_LEVELS)[number], pretty: true });
        const env = createEmbedded({ logger, clusters: { [cluster]: nodes }, zones, checks, inventoryRoot, ...(execAllowlist ? { execAllowlist } : { simulateExecSeconds: seconds }) });
        const say = (line: string) => process.stderr.write(`${line}\n`);
        say(`taskerman dev: router + ${nodes.length} runners of ${cluster} in one process (in-memory queues and coordinator)`);
        if (!execAllowlist && specs.some((x) => x.action !== 'sleep' && x.action !== 'noop')) say(`taskerman dev: no --config: ${[...new Set(specs.map((x) => x.action))].join(', ')} simulated (each node waits ${seconds}s); give a runner config to run it for real`);
        await env.start();
        const ac = new AbortController();
        const onSignal = () => ac.abort();
        process.once('SIGINT', onSignal);
        try {
          if (policy) {
            await env.budget.applyPolicy(policy, `dev:${currentUser()}`);
            say(`cluster policy of ${cluster}: budget ${policy.budget ? (policy.budget.kind === 'count' ? policy.budget.value : `${policy.budget.value}%`) : '-'}${policy.zoneBudget ? `, zone_budget ${policy.zoneBudget}` : ''}${policy.health ? `, health ${policy.health.check}` : ''} — shared by every task of the cluster`);
          }
          const tasks = [];
          for (const spec of specs) {
            const task = await emitTask(env.queue, env.names, spec, { kind: 'cli', user: currentUser() });
            tasks.push({ taskId: task.taskId, label: spec.name.replace(/^demo-(rolling-)?/, '') });
            say(`submitted ${spec.name} (${spec.action}) to ${nodes.length} nodes, limit ${spec.limit.kind === 'count' ? spec.limit.value : `${spec.limit.value}%`}: task ${task.taskId}`);
          }
          const r = await followTasks(env.store, env.budget, cluster, tasks, { out: say, signal: ac.signal });
          if (!r) throw new InterruptedError('interrupted');
          process.stdout.write(`${r.results.map((x) => statusText(x.task, x.nodes, { colour: useColour(process.stdout) })).join('\n\n')}\n`);
          const cap = policy?.budget?.kind === 'count' ? policy.budget.value : undefined;
          say(`at most ${r.maxConcurrent} node(s) of ${cluster} were inside an action at once (from the node records), ${r.maxGrants} held a grant at once (sampled)${cap !== undefined ? `; the budget is ${cap}` : ''}`);
          const failed = r.results.filter((x) => x.task.state !== 'succeeded');
          if (failed.length) throw new ExitError(EXIT.failed, `taskerman: ${failed.map((x) => `task ${x.task.taskId} ended ${x.task.state}`).join('; ')}`);
        } finally {
          process.off('SIGINT', onSignal);
          await env.stop();
        }
      },
    );
}
