// `taskerman budget [cluster]`: a cluster's disruption budget as it stands — the budget and zone budget as
// numbers, every grant, the unavailable nodes, the waiting requests in order with what each waits for, the
// last health result and recent events. With no cluster, one line per cluster. --watch re-renders on every
// change (polling; Ctrl-C ends it with exit 0).
import { Command } from 'commander';
import type { BudgetStore } from '../../core/budget/budget-store.js';
import { delay } from '../../core/delay.js';
import { parseDuration } from '../../core/duration.js';
import { NotFoundError, OptionError } from '../../core/errors.js';
import { budgetJson, budgetText, summaryJson, summaryTable } from '../budget-view.js';
import { commandContext, withBudget, type CommandContext } from '../command-context.js';
import { withCommonOptions } from '../config.js';

/** One rendering: the text or JSON to print, and a key that changes only when the budget does (not the clock). */
async function render(budget: BudgetStore, cluster: string | undefined, json: boolean, zkRoot: string): Promise<{ text: string; key: string }> {
  const now = Date.now();
  if (cluster) {
    if (!(await budget.clusters()).includes(cluster)) {
      throw new NotFoundError(`cluster ${cluster}`, { hint: `no runner, policy or grant has used it (is --zk-root ${zkRoot} right?); \`taskerman budget\` lists the clusters` });
    }
    const j = budgetJson(await budget.inspect(cluster), now);
    const key = JSON.stringify({ ...j, at: '', gate_updated_at: '', grants: j.grants.map((g) => ({ ...g, held_ms: 0 })) });
    return { text: json ? JSON.stringify(j, null, 2) : budgetText(j, now), key };
  }
  const rows = [];
  for (const c of await budget.clusters()) rows.push(summaryJson(budgetJson(await budget.inspect(c), now)));
  const key = JSON.stringify(rows);
  if (json) return { text: JSON.stringify(rows, null, 2), key };
  return { text: rows.length ? summaryTable(rows) : '(no cluster has a budget yet: runners register theirs when they start)', key };
}

async function watchBudget(ctx: CommandContext, budget: BudgetStore, cluster: string | undefined, json: boolean, everyMs: number, signal: AbortSignal): Promise<void> {
  let last = '';
  const tty = process.stdout.isTTY && !json;
  while (!signal.aborted) {
    const r = await render(budget, cluster, json, ctx.cfg.zkRoot);
    if (r.key !== last) {
      last = r.key;
      if (tty) process.stdout.write('\x1b[2J\x1b[H');
      // --json --watch prints one document per change, on one line each (NDJSON).
      ctx.out(json ? JSON.stringify(JSON.parse(r.text)) : `${tty ? '' : `--- ${new Date().toISOString()}\n`}${r.text}`);
    }
    await delay(everyMs, signal);
  }
}

export function budgetCommand(): Command {
  return withCommonOptions(
    new Command('budget')
      .description("show a cluster's disruption budget: grants, unavailable nodes, waiting requests and why, health, events (no cluster: every cluster, one line each)")
      .argument('[cluster]', 'the cluster (default: a summary of every cluster)')
      .option('--json', 'print JSON (snake_case, ISO-8601 times with milliseconds, durations in ms)')
      .option('--watch', 'print again on every change until Ctrl-C (with --json: one JSON document per line)')
      .option('--interval <duration>', 'with --watch, how often to look', '2s'),
  ).action(async (cluster: string | undefined, o: { json?: boolean; watch?: boolean; interval: string }, cmd: Command) => {
    const ctx = commandContext(cmd);
    const everyMs = parseDuration(o.interval);
    if (everyMs === undefined || everyMs < 100 || everyMs > 3_600_000) throw new OptionError('interval', `"${o.interval}" must be a duration from 100ms to 1h, like 2s`);
    await withBudget(ctx, async (budget) => {
      if (!o.watch) {
        ctx.out((await render(budget, cluster, Boolean(o.json), ctx.cfg.zkRoot)).text);
        return;
      }
      const ac = new AbortController();
      const stop = () => ac.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await watchBudget(ctx, budget, cluster, Boolean(o.json), everyMs, ac.signal);
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    });
  });
}
