// ZooKeeper session state as a metric: one gauge per state, 1 for the current one, and a counter of changes
// (a flapping session shows as a rate even when every scrape happens to see `connected`).
import type { Coordinator, SessionState } from '../coordination/coordinator.js';
import { ZK_SESSION_STATES, type TaskermanMetrics } from './metrics.js';

/** Tracks `coordinator`'s session in `metrics`; returns the function that stops tracking. */
export function trackZkSession(coordinator: Coordinator, metrics: TaskermanMetrics): () => void {
  const set = (state: SessionState) => {
    for (const s of ZK_SESSION_STATES) metrics.zkSessionState.set({ state: s }, s === state ? 1 : 0);
  };
  // A coordinator handed over is connected (connect() resolves only then).
  set('connected');
  return coordinator.onSessionState((state) => {
    metrics.zkSessionEvents.inc({ state });
    set(state);
  });
}
