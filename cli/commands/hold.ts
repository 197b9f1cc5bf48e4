// `taskerman hold <cluster> --node n --reason "disk swap"`: a human takes a node out of its cluster for manual
// work, drawing from the same budget as every task. The hold is a grant like a task's: it waits in the same
// queue (priority, ageing, zone, health gate) and, once granted, stays after this command exits, until
// `taskerman release` or its --ttl. While it waits, this process also stands as a keeper candidate of the
// cluster, so a hold is granted even when no runner of the cluster is live (the lowest candidate keeps; a
// runner that was there first stays keeper). `--now` never waits: it withdraws the request and says why.
import { Command, Option } from 'commander';
import { BudgetKeeper } from '../../core/budget/keeper.js';
import { waitForGrant, type HeldGrant } from '../../core/budget/grant-waiter.js';
import type { BudgetStore } from '../../core/budget/budget-store.js';
import type { GrantRecord, WaitingEntry } from '../../core/budget/records.js';
import { parseDuration, formatDuration } from '../../core/duration.js';
import { AbortedError, BudgetRefusedError, OptionError } from '../../core/errors.js';
import { PRIORITIES, type Priority } from '../../core/task/task-spec.js';
import { delay } from '../../core/delay.js';
import { audited } from '../audit-trail.js';
import { commandContext, withBudget, type CommandContext } from '../command-context.js';
import { validateZone, withCommonOptions } from '../config.js';
import { ExitError } from '../handle-error.js';
import { operatorId } from '../operator.js';

/** How often the gate is read for the keeper's word on our request while waiting. */
const GATE_POLL_MS = 500;
/** `--now`: how long to wait for the keeper's verdict (plus the policy's health check timeout). */
const NOW_VERDICT_MS = 5_000;

interface HoldOptions {
  node: string;
  reason: string;
  ttl?: string;
  now?: boolean;
  zone?: string;
  priority: string;
  timeout?: string;
  json?: boolean;
}

export interface HoldRequest {
  cluster: string;
  node: string;
  reason: string;
  ttlMs: number | undefined;
  zone: string | undefined;
  priority: Priority;
  now: boolean;
  timeoutMs: number | undefined;
  by: string;
}

function compile(cluster: string, o: HoldOptions): HoldRequest {
  const duration = (field: string, v: string | undefined, example: string) => {
    if (v === undefined) return undefined;
    const ms = parseDuration(v);
    if (ms === undefined || ms <= 0) throw new OptionError(field, `"${v}" is not a duration like ${example} (ms, s, m, h, d)`);
    return ms;
  };
  if (!o.node.trim()) throw new OptionError('node', 'is required: the node to hold, as its runner calls itself');
  const reason = o.reason.trim();
  if (!reason) throw new OptionError('reason', 'is required: say why, e.g. --reason "disk swap" (it is shown to everyone waiting)');
  if (reason.length > 500) throw new OptionError('reason', 'must be at most 500 characters');
  if (o.zone !== undefined) validateZone(o.zone);
  if (!(PRIORITIES as readonly string[]).includes(o.priority)) throw new OptionError('priority', `must be one of ${PRIORITIES.join(', ')}`);
  return {
    cluster,
    node: o.node.trim(),
    reason,
    ttlMs: duration('ttl', o.ttl, '4h'),
    zone: o.zone,
    priority: o.priority as Priority,
    now: Boolean(o.now),
    timeoutMs: duration('timeout', o.timeout, '30m'),
    by: operatorId(),
  };
}

export function holdJson(g: GrantRecord, cluster: string) {
  return {
    cluster,
    node: g.node,
    zone: g.zone ?? null,
    kind: g.kind,
    token: g.token,
    granted_at: g.granted_at,
    expires_at: g.expires_at ?? null,
    by: g.by,
    reason: g.reason ?? null,
    request: g.request,
  };
}

/**
 * Asks for the hold and waits for it. Resolves with the grant; throws BudgetRefusedError when `--now` (or
 * `--timeout`) gave up, with the keeper's reason; AbortedError when `signal` aborted (the request is withdrawn).
 */
export async function takeHold(budget: BudgetStore, h: HoldRequest, ctx: Pick<CommandContext, 'err' | 'logger'>, signal?: AbortSignal): Promise<GrantRecord> {
  const known = await budget.knownNodes(h.cluster);
  if (!known.some((k) => k.node === h.node)) {
    ctx.err(`taskerman: warning: no runner has registered ${h.node} in ${h.cluster} (known: ${known.map((k) => k.node).join(', ') || 'none'}); holding it anyway`);
  }
  const policy = await budget.getPolicy(h.cluster);
  const keeper = new BudgetKeeper({ store: budget, cluster: h.cluster, by: `cli:${h.by}`, checks: {}, logger: ctx.logger, tickMs: 2000 });
  const ac = new AbortController();
  const onOuter = () => ac.abort(signal?.reason);
  signal?.addEventListener('abort', onOuter, { once: true });
  let request: string | undefined;
  let refusal: string | undefined;
  let lastReason = '';
  const started = Date.now();
  const verdictMs = NOW_VERDICT_MS + (policy?.health?.timeoutMs ?? 0);
  const watchGate = async (): Promise<void> => {
    while (!ac.signal.aborted) {
      await delay(GATE_POLL_MS, ac.signal);
      if (ac.signal.aborted || !request) continue;
      const entry: WaitingEntry | undefined = (await budget.getGate(h.cluster).catch(() => undefined))?.value.waiting.find((w) => w.request === request);
      if (entry && entry.reason !== lastReason) {
        lastReason = entry.reason;
        ctx.err(`waiting (${entry.blocked_by}): ${entry.reason}`);
      }
      if (h.now && (entry || Date.now() - started > verdictMs)) {
        refusal = entry ? entry.reason : `no word from the cluster's keeper within ${formatDuration(verdictMs)}`;
        ac.abort();
      } else if (h.timeoutMs !== undefined && Date.now() - started > h.timeoutMs) {
        refusal = `still waiting after ${formatDuration(h.timeoutMs)}${lastReason ? `: ${lastReason}` : ''}`;
        ac.abort();
      }
    }
  };
  await keeper.start();
  let held: HeldGrant | undefined;
  const watching = watchGate();
  try {
    held = await waitForGrant(
      budget,
      h.cluster,
      {
        node: h.node,
        zone: h.zone,
        kind: 'hold',
        task_id: undefined,
        limit: undefined,
        exclusive: false,
        priority: h.priority,
        requested_at: new Date().toISOString(),
        by: h.by,
        reason: h.reason,
        ttl_ms: h.ttlMs,
      },
      {
        signal: ac.signal,
        onQueued: (name) => {
          request = name;
          ctx.err(`asked for a hold of ${h.node} in ${h.cluster} (request ${name})${h.now ? '' : '; waiting for the budget (Ctrl-C withdraws it)'}`);
        },
      },
    );
    held.close();
    return held.record;
  } catch (err) {
    if (err instanceof AbortedError && refusal !== undefined) {
      throw new BudgetRefusedError(`cannot hold ${h.node} of ${h.cluster} ${h.now ? 'now' : 'in time'}: ${refusal}`, { hint: `the request was withdrawn; \`taskerman budget ${h.cluster}\` shows who holds what` });
    }
    throw err;
  } finally {
    ac.abort();
    signal?.removeEventListener('abort', onOuter);
    await watching;
    await keeper.stop();
  }
}

export function holdCommand(): Command {
  return withCommonOptions(
    new Command('hold')
      .description('take a node out for manual work: a grant from the cluster budget, shared with every task (waits like any request)')
      .argument('<cluster>', 'the cluster the node belongs to')
      .requiredOption('--node <name>', 'the node to hold, as its runner calls itself')
      .requiredOption('--reason <text>', 'why, shown to everyone waiting (e.g. "disk swap")')
      .option('--ttl <duration>', 'the hold ends by itself after this long, e.g. 4h (default: until `taskerman release`)')
      .option('--now', 'do not wait: if the budget cannot grant it now, withdraw and exit 1 saying why')
      .option('--timeout <duration>', 'give up waiting after this long, e.g. 30m (default: wait until granted or Ctrl-C)')
      .option('--zone <zone>', "the node's zone, if its runner never registered one")
      .addOption(new Option('--priority <priority>', 'order among waiting requests').choices([...PRIORITIES]).default('normal'))
      .option('--json', 'print the grant as JSON'),
  )
    .addHelpText('after', '\nThe hold stays after this command exits. Give it back with `taskerman release <cluster> --node <name>`.\nExit codes: 0 held, 1 refused (--now, --timeout), 2 bad usage, 3 ZooKeeper unreachable, 130 interrupted.')
    .action(async (cluster: string, o: HoldOptions, cmd: Command) => {
      const ctx = commandContext(cmd);
      const h = compile(cluster, o);
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        const g = await withBudget(ctx, async (budget) => {
          try {
            return await audited(ctx, { command: 'hold', cluster: h.cluster, node: h.node, args: { reason: h.reason, ttl_ms: h.ttlMs ?? null, now: Boolean(h.now) } }, () => takeHold(budget, h, ctx, ac.signal), budget.coordinator);
          } catch (err) {
            if (err instanceof AbortedError && ac.signal.aborted) throw new ExitError(130, `taskerman: interrupted: the hold request for ${h.node} was withdrawn`);
            throw err;
          }
        });
        if (o.json) {
          ctx.out(JSON.stringify(holdJson(g, cluster), null, 2));
          return;
        }
        ctx.out(`held ${g.node} of ${cluster} (token ${g.token}) since ${g.granted_at}${g.expires_at ? ` until ${g.expires_at}` : ' until released'}: ${g.reason ?? ''}`);
        ctx.err(`give it back with: taskerman release ${cluster} --node ${g.node}`);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
