// Moves the fleet gauges (tasks by state, grants held and waiting, the oldest grant, live runners, queue
// depths) from what the fleet scanner read. Clusters or queues that disappear are reset, so a gauge never
// reports a cluster that no longer has anything.
import type { FleetScanner } from '../fleet/fleet-scanner.js';
import type { TaskermanMetrics } from './metrics.js';

export function bindFleetMetrics(scanner: FleetScanner, m: TaskermanMetrics, now: () => number = Date.now): void {
  scanner.on('scan', (scan) => {
    for (const [state, n] of Object.entries(scan.tasksByState)) m.tasks.set({ state }, n);
    m.grantsHeld.reset();
    m.grantsWaiting.reset();
    m.grantOldestSeconds.reset();
    m.budgetNodes.reset();
    m.healthGateOpen.reset();
    m.membersLive.reset();
    for (const g of scan.grants) {
      const cluster = g.cluster;
      m.grantsHeld.set({ cluster }, g.held.length);
      m.grantsWaiting.set({ cluster }, g.waiting.length);
      if (g.budget !== undefined) m.budgetNodes.set({ cluster }, g.budget);
      if (g.health) m.healthGateOpen.set({ cluster }, g.health.ok ? 1 : 0);
      m.membersLive.set({ cluster }, g.members.length);
      const oldest = g.held.reduce((min, h) => Math.min(min, Date.parse(h.since)), Infinity);
      m.grantOldestSeconds.set({ cluster }, Number.isFinite(oldest) ? Math.max(0, (now() - oldest) / 1000) : 0);
    }
  });
  scanner.on('queues', (depths) => {
    m.queueDepthRefreshes.inc({ result: 'ok' });
    m.queueMessages.reset();
    for (const d of depths) {
      m.queueMessages.set({ queue: d.queue, kind: d.kind, state: 'visible' }, d.visible);
      m.queueMessages.set({ queue: d.queue, kind: d.kind, state: 'in_flight' }, d.inFlight);
      m.queueMessages.set({ queue: d.queue, kind: d.kind, state: 'delayed' }, d.delayed);
    }
  });
  scanner.on('problem', () => m.problems.inc({ component: 'fleet_scanner' }));
}
