// A router's metrics, moved by its events and its supervisor's: tasks routed, work items sent, tasks
// rejected (dead-lettered) by error code, duplicates, nodes given up for want of a runner, breaker trips,
// problems. The fleet gauges (tasks by state, grants, queue depths) come from the fleet scanner it runs.
import type { TaskermanMetrics } from '../core/metrics/metrics.js';
import type { Router } from './router.js';
import type { Supervisor } from './supervisor.js';

function codeOf(reason: string): string {
  return /^([A-Z][A-Z_]+):/.exec(reason)?.[1] ?? 'ERROR';
}

export function bindRouterMetrics(router: Router, m: TaskermanMetrics, supervisor?: Supervisor): void {
  router.on('routed', (e) => {
    m.tasksRouted.inc();
    m.workItemsSent.inc(e.nodes);
  });
  router.on('duplicate', () => m.duplicateTasks.inc());
  router.on('rejected', (e) => {
    const code = codeOf(e.reason);
    m.tasksRejected.inc({ code });
    m.deadLetters.inc({ component: 'router', code });
  });
  router.on('problem', () => m.problems.inc({ component: 'router' }));
  supervisor?.on('gaveUp', () => m.deadLetters.inc({ component: 'supervisor', code: 'NO_RUNNER' }));
  supervisor?.on('halted', (e) => m.breakerTrips.inc({ cluster: e.cluster }));
}
