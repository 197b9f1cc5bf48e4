// What a notification says, and the two shapes it is posted in: Taskerman's JSON (snake_case, ISO-8601
// times with milliseconds) and a Slack-compatible one (an incoming webhook's `text` plus a block).
// `key` names the event itself: every process that sees the same event builds the same key, and the key is
// what deduplicates it across router replicas.

export const NOTIFICATION_KINDS = ['task_halted', 'task_failed', 'task_cancelled', 'dead_letter', 'grant_overdue', 'fire_missed'] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];
export const NOTIFY_FORMATS = ['json', 'slack'] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];

export interface Notification {
  kind: NotificationKind;
  /** The event's identity, the same in every process that sees it. */
  key: string;
  severity: 'critical' | 'warning';
  /** One line for a human. */
  summary: string;
  /** When the event happened (ISO-8601). */
  at: string;
  cluster?: string;
  taskId?: string;
  node?: string;
  /** Further facts, snake_case keys. */
  details?: Record<string, unknown>;
}

export function toJsonPayload(n: Notification, source: { host: string; component: string }): Record<string, unknown> {
  return {
    kind: n.kind,
    key: n.key,
    severity: n.severity,
    summary: n.summary,
    at: n.at,
    ...(n.cluster ? { cluster: n.cluster } : {}),
    ...(n.taskId ? { task_id: n.taskId } : {}),
    ...(n.node ? { node: n.node } : {}),
    details: n.details ?? {},
    source: { host: source.host, component: source.component },
    sent_at: new Date().toISOString(),
  };
}

const ICON: Record<Notification['severity'], string> = { critical: ':rotating_light:', warning: ':warning:' };

export function toSlackPayload(n: Notification, source: { host: string; component: string }): Record<string, unknown> {
  const facts = [
    n.cluster ? `*cluster* \`${n.cluster}\`` : '',
    n.taskId ? `*task* \`${n.taskId}\`` : '',
    n.node ? `*node* \`${n.node}\`` : '',
    `*at* ${n.at}`,
  ].filter(Boolean);
  const text = `${ICON[n.severity]} [taskerman] ${n.summary}`;
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `${text}\n${facts.join(' · ')}` } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `${n.kind} from ${source.component}@${source.host}` }] },
    ],
  };
}
