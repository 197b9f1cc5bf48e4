// A runner's notifications (`taskerman runner --notify-url`): the dead letters it sends. Keyed as a router
// keys the same DEAD node, so a router that also notifies does not post it twice.
import { deadLetterNotification, rejectedMessageNotification } from '../core/notify/task-notifications.js';
import type { Notifier } from '../core/notify/notifier.js';
import type { QueueNames } from '../core/queue/queue-names.js';
import type { Runner } from './runner.js';

export function bindRunnerNotifications(runner: Runner, notifier: Notifier, names: QueueNames): void {
  runner.on('deadLetter', (e) => {
    if (e.taskId && e.node && e.attempts !== undefined) {
      notifier.notify(deadLetterNotification({ taskId: e.taskId, node: e.node, cluster: runner.cluster, attempts: e.attempts, reason: e.reason, at: new Date().toISOString() }));
    } else {
      notifier.notify(rejectedMessageNotification({ messageId: e.messageId, reason: e.reason, queue: names.clusterDlq(runner.cluster), ...(e.taskId ? { taskId: e.taskId } : {}) }));
    }
  });
}
