// A scheduler's metrics, moved by its events: leadership, fires by spec and reason, the delay from fire
// time to queue, missed fire times (catchup: none), fire times another replica claimed, problems.
import type { TaskermanMetrics } from '../core/metrics/metrics.js';
import type { Scheduler } from './scheduler.js';

/** Binds; returns a refresh for the gauges read at scrape time (specs loaded, leadership). */
export function bindSchedulerMetrics(scheduler: Scheduler, m: TaskermanMetrics, now: () => number = Date.now): () => void {
  m.schedulerLeader.set(0);
  scheduler.on('leadership', (leader) => m.schedulerLeader.set(leader ? 1 : 0));
  scheduler.on('fired', (e) => {
    m.schedulerFires.inc({ spec: e.spec, reason: e.reason });
    m.schedulerFireDelay.observe(Math.max(0, now() - e.fireTime) / 1000);
  });
  scheduler.on('duplicate', () => m.schedulerDuplicates.inc());
  scheduler.on('skipped', (e) => m.schedulerMissed.inc({ spec: e.spec }));
  scheduler.on('problem', () => m.problems.inc({ component: 'scheduler' }));
  return () => {
    m.schedulerSpecs.set(scheduler.specNames().length);
    m.schedulerLeader.set(scheduler.isLeader() ? 1 : 0);
  };
}
