// --notify-url / --notify-format for the daemons: where notifications are posted (a webhook), as
// Taskerman's JSON or a Slack-compatible body. Also `notify_url` / `notify_format` in the config file and
// TASKERMAN_NOTIFY_URL / TASKERMAN_NOTIFY_FORMAT.
import { Option, type Command } from 'commander';
import type { Coordinator } from '../core/coordination/coordinator.js';
import { OptionError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { TaskermanMetrics } from '../core/metrics/metrics.js';
import { NOTIFY_FORMATS, type NotifyFormat } from '../core/notify/notification.js';
import { Notifier, validateNotifyUrl } from '../core/notify/notifier.js';
import type { CommonConfig } from './config.js';

export interface NotifyFlags {
  notifyUrl?: string;
  notifyFormat?: string;
}

export function withNotifyOptions(cmd: Command, what: string): Command {
  return cmd
    .addOption(new Option('--notify-url <url>', `post a notification to this webhook when ${what}`).env('TASKERMAN_NOTIFY_URL'))
    .addOption(new Option('--notify-format <format>', 'json (Taskerman\'s fields) or slack (an incoming webhook\'s text and blocks); default json').env('TASKERMAN_NOTIFY_FORMAT'));
}

export interface NotifyConfig {
  url: string;
  format: NotifyFormat;
}

/** The notification settings, validated before anything connects (a bad URL is a usage error, exit 2). */
export function notifyConfig(o: NotifyFlags, cfg: CommonConfig): NotifyConfig | undefined {
  const url = o.notifyUrl ?? (typeof cfg.file.notify_url === 'string' ? cfg.file.notify_url : undefined);
  if (!url) return undefined;
  const format = o.notifyFormat ?? (typeof cfg.file.notify_format === 'string' ? cfg.file.notify_format : 'json');
  if (!(NOTIFY_FORMATS as readonly string[]).includes(format)) throw new OptionError('notify-format', `"${format}" must be one of ${NOTIFY_FORMATS.join(', ')}`);
  return { url: validateNotifyUrl(url), format: format as NotifyFormat };
}

export function notifierFor(nc: NotifyConfig | undefined, cfg: CommonConfig, component: string, coordinator: Coordinator, logger: Logger, metrics?: TaskermanMetrics): Notifier | undefined {
  if (!nc) return undefined;
  return new Notifier({ url: nc.url, format: nc.format, coordinator, root: cfg.zkRoot, logger: logger.child({ component: 'notifier' }), component, ...(metrics ? { metrics } : {}) });
}
