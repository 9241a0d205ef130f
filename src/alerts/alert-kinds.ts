/**
 * Everything Omoi raises an alert for. A fixed set: rules match on it, it is a metric label,
 * and the dashboard and `omoi alerts` filter by it.
 */
export const ALERT_KINDS = [
  'dead_letter', // a message was dead-lettered (exhausted deliveries or refused input)
  'agent_degraded', // an agent missed heartbeats
  'agent_failed', // an agent was judged dead; its attempts were requeued
  'task_blocked', // a task cannot run (a source failed for good, a blocked join)
  'merge_unresolved', // a merge's conflicts were left unresolved: a person must supply a resolution
  'ticket_failed', // a ticket ended failed
  'actor_escalated', // an actor exhausted its restarts; its entity is failed
  'budget_warning', // a ticket's or agent's spend crossed its warning share
  'budget_exceeded', // a ticket's or agent's spend reached its budget: no new attempts
  'task_stalled', // an agent task made no output and no progress for too long
  'ticket_stalled', // a ticket's state did not change for too long
  'node_lost', // a node stopped heartbeating; its partitions were taken over
  'circuit_open', // a breaker opened around something Omoi calls (git remote, webhook, SMTP, resolver, agent command)
  'delivery_failed', // a completed ticket's branch could not be pushed after its attempts
] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const ALERT_SEVERITIES = ['info', 'warning', 'critical'] as const;
export type AlertSeverity = (typeof ALERT_SEVERITIES)[number];

/** The severity of a kind when no rule sets one. */
export const DEFAULT_SEVERITY: Record<AlertKind, AlertSeverity> = {
  dead_letter: 'warning',
  agent_degraded: 'warning',
  agent_failed: 'critical',
  task_blocked: 'warning',
  merge_unresolved: 'critical',
  ticket_failed: 'critical',
  actor_escalated: 'critical',
  budget_warning: 'warning',
  budget_exceeded: 'critical',
  task_stalled: 'warning',
  ticket_stalled: 'warning',
  node_lost: 'critical',
  circuit_open: 'warning',
  delivery_failed: 'critical',
};

export const ALERT_STATUSES = ['raised', 'acknowledged', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];

export function isAlertKind(value: unknown): value is AlertKind {
  return typeof value === 'string' && (ALERT_KINDS as readonly string[]).includes(value);
}

/**
 * What a route is given to deliver (the payload of the `alert.raised` event): one
 * notification of an alert — the first, or one after its dedupe window passed with repeats.
 */
export interface AlertNotification {
  alert_id: string;
  kind: AlertKind;
  severity: AlertSeverity;
  /** The alert's identity: repeats with the same fingerprint count on one alert. */
  fingerprint: string;
  /** One line a person reads first. */
  title: string;
  /** The fields rules match on (ticket_id, task_id, agent_id, node_id, breaker, ...). */
  fields: Record<string, string>;
  /** Times this condition was raised since the alert opened (repeats within the window count here). */
  count: number;
  first_raised_at: string;
  last_raised_at: string;
  /** Names of the configured routes (`alerts.routes`) this notification goes to; `dashboard` is implicit. */
  routes: string[];
  /** 1 for the first notification of the alert, then 2, 3, ... after each dedupe window. */
  notification: number;
}
