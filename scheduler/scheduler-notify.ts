// A scheduler's notifications (`taskerman scheduler --notify-url`): a fire time missed and not fired
// (catchup: none). Only the leader decides those, and the key (spec, fire time) deduplicates a handover.
import { fireMissedNotification } from '../core/notify/task-notifications.js';
import type { Notifier } from '../core/notify/notifier.js';
import type { Scheduler } from './scheduler.js';

export function bindSchedulerNotifications(scheduler: Scheduler, notifier: Notifier): void {
  scheduler.on('skipped', (e) => notifier.notify(fireMissedNotification(e)));
}
