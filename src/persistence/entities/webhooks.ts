import { EntitySchema } from '@mikro-orm/core';
import { DELIVERY_STATE_COLUMNS } from './delivery-columns.ts';

/**
 * An outgoing webhook subscription: domain events whose type matches one of `events` (globs,
 * e.g. `ticket.*`), and of `ticket_id` when set, are POSTed to `url`, signed with `secret`.
 * The secret is stored (it is needed to sign) but never returned after creation nor logged.
 * Removing a subscription clears `active` and sets `removed_at` (its deliveries stay visible).
 */
export interface WebhookSubscriptionRow {
  id: string; url: string; secret: string; events: string[]; ticket_id: string | null; active: boolean;
  created_by: string; created_at: Date; removed_at: Date | null;
}
export const WebhookSubscriptionEntity = new EntitySchema<WebhookSubscriptionRow>({
  name: 'WebhookSubscriptionRow',
  tableName: 'omoi_webhook_subscription',
  properties: {
    id: { type: 'string', primary: true },
    url: { type: 'text' },
    secret: { type: 'text' },
    events: { type: 'json' },
    ticket_id: { type: 'string', nullable: true },
    active: { type: 'boolean' },
    created_by: { type: 'string' },
    created_at: { type: 'Date' },
    removed_at: { type: 'Date', nullable: true, index: true },
  },
});

/**
 * One domain event on its way to one subscription: at most one row per `(subscription_id,
 * event_id)`, so a redelivered event is delivered once. Queue columns as `omoi_alert_delivery`
 * (src/delivery/delivery-queue.ts); `payload` is the event envelope sent.
 */
export interface WebhookDeliveryRow {
  id?: number; subscription_id: string; event_id: string; event_type: string;
  status: 'pending' | 'delivered' | 'failed'; attempts: number; next_attempt_at: Date;
  last_http_status: number | null; last_answer: string | null; last_error_code: string | null; last_error: string | null;
  payload: unknown; created_at: Date; updated_at: Date; delivered_at: Date | null;
}
export const WebhookDeliveryEntity = new EntitySchema<WebhookDeliveryRow>({
  name: 'WebhookDeliveryRow',
  tableName: 'omoi_webhook_delivery',
  uniques: [{ properties: ['subscription_id', 'event_id'] }],
  indexes: [{ properties: ['status', 'next_attempt_at'] }],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    subscription_id: { type: 'string' },
    event_id: { type: 'string' },
    event_type: { type: 'string' },
    ...DELIVERY_STATE_COLUMNS,
  },
});

/**
 * One GitHub webhook delivery received (`X-GitHub-Delivery`): a second one with the same id is
 * answered "duplicate" and does nothing. `outcome`: `applied` or `ignored`.
 */
export interface GithubDeliveryRow { delivery_id: string; event: string; action: string | null; outcome: string; ticket_id: string | null; received_at: Date }
export const GithubDeliveryEntity = new EntitySchema<GithubDeliveryRow>({
  name: 'GithubDeliveryRow',
  tableName: 'omoi_github_delivery',
  properties: {
    delivery_id: { type: 'string', primary: true },
    event: { type: 'string' },
    action: { type: 'string', nullable: true },
    outcome: { type: 'string' },
    ticket_id: { type: 'string', nullable: true },
    received_at: { type: 'Date', index: true },
  },
});

/** The ticket a GitHub issue became (`repository`: the payload's `full_name`), so that a comment command finds it. */
export interface GithubIssueTicketRow { ticket_id: string; repository: string; issue: number; created_at: Date }
export const GithubIssueTicketEntity = new EntitySchema<GithubIssueTicketRow>({
  name: 'GithubIssueTicketRow',
  tableName: 'omoi_github_issue_ticket',
  indexes: [{ properties: ['repository', 'issue'] }],
  properties: {
    ticket_id: { type: 'string', primary: true },
    repository: { type: 'string' },
    issue: { type: 'integer' },
    created_at: { type: 'Date', index: true },
  },
});
