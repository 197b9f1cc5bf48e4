// No ghost locks: a granted node that has left its cluster — discovery (EC2 tags, the static inventory) no
// longer returns it: the instance was terminated, or removed from the inventory — has its grant released and is
// forgotten as a known node, with the reason in the cluster's event log. Runs in every router (a release is a
// guarded transaction, so two routers cannot both release, nor release a grant given again meanwhile).
// A granted node that is still in the cluster but whose runner has not come back keeps its grant: the keeper
// flags it past the policy's return_grace (core/budget/keeper.ts).
import { BudgetStore } from '../core/budget/budget-store.js';
import { resolveTargets, type DiscoveryMap } from '../core/discovery/discovery.js';
import { describeError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { parseTaskSpec } from '../core/task/task-spec.js';
import type { TaskStore } from '../core/task/task-store.js';

export interface BudgetJanitorOptions {
  store: TaskStore;
  discovery: DiscoveryMap;
  logger: Logger;
  /** Who releases, in the event log. */
  by: string;
  /** How often to look. Default 60 s. */
  intervalMs?: number;
}

export class BudgetJanitor {
  private readonly budget: BudgetStore;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly intervalMs: number;

  constructor(private readonly o: BudgetJanitorOptions) {
    this.budget = new BudgetStore(o.store.coordinator, o.store.paths);
    this.intervalMs = o.intervalMs ?? 60_000;
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => {
      this.running ??= this.sweep()
        .catch((err: unknown) => this.o.logger.warn({ err: describeError(err) }, 'budget janitor: sweep failed; will try again'))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** One look at every cluster with grants. Returns the nodes released, as `cluster/node`. */
  async sweep(): Promise<string[]> {
    const released: string[] = [];
    for (const cluster of await this.budget.clusters()) {
      const grants = await this.budget.grants(cluster);
      if (grants.length === 0) continue;
      const inv = await this.budget.inventory(cluster);
      if (!inv || !this.o.discovery[inv.discovery]) continue;
      let members: string[];
      try {
        const spec = parseTaskSpec({ name: 'budget-janitor', action: 'noop', cluster, discovery: inv.discovery, ...(inv.inventory ? { inventory: inv.inventory } : {}) });
        members = await resolveTargets(spec, this.o.discovery);
      } catch (err) {
        // Discovery failing (or finding nothing) is not "every node left": never release on a failed look.
        this.o.logger.warn({ cluster, err: describeError(err) }, 'budget janitor: discovery failed; no grant released');
        continue;
      }
      const present = new Set(members);
      const at = new Date().toISOString();
      for (const g of grants) {
        if (present.has(g.node)) continue;
        const reason = `left the cluster: not returned by ${inv.discovery} discovery at ${at}${g.task_id ? ` (granted to task ${g.task_id})` : ''}`;
        const r = await this.budget.releaseGrant(cluster, g.node, { by: this.o.by, reason, kind: 'left_cluster', token: g.token });
        if (!r) continue;
        await this.budget.forgetNode(cluster, g.node);
        released.push(`${cluster}/${g.node}`);
        this.o.logger.warn({ cluster, node: g.node, task_id: g.task_id }, `grant released: ${reason}`);
      }
      await this.budget.recordInventory(cluster, { ...inv, nodes: members.sort(), at });
    }
    return released;
  }
}
