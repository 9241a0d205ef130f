import type { Database } from '../persistence/index.ts';
import type { Envelope } from '../protocol/index.ts';
import { DeliveryQueue, isoOrNull } from '../delivery/delivery-queue.ts';
import { DeliveryStatus } from '../delivery/delivery-status.ts';

/** A webhook delivery as the dispatcher takes it. `id` is the `Omoi-Delivery` header's value. */
export interface DueWebhookDelivery { id: string; attempts: number; subscription_id: string; event_id: string; event_type: string; payload: Envelope }

/** A webhook delivery as `GET /api/webhooks/:id/deliveries` and `omoi webhooks deliveries` show it (no payload). */
export interface WebhookDeliveryView {
  id: number; subscription_id: string; event_id: string; event_type: string;
  status: DeliveryStatus; attempts: number; next_attempt_at: string | null; last_http_status: number | null;
  last_answer: string | null; last_error_code: string | null; last_error: string | null;
  created_at: string; updated_at: string; delivered_at: string | null;
}

/** `omoi_webhook_delivery` in SQL; claiming and settling is the shared `DeliveryQueue`. */
export class WebhookDeliveryStore {
  readonly queue: DeliveryQueue<DueWebhookDelivery>;

  constructor(private readonly db: Database) {
    this.queue = new DeliveryQueue(db, 'omoi_webhook_delivery', 'd.subscription_id, d.event_id, d.event_type, d.payload');
  }

  /**
   * One pending row per subscription for the event, due now. Rows that exist already (a
   * redelivered event) are left alone. Resolves with the number of rows made.
   */
  async record(env: Envelope, subscriptionIds: string[]): Promise<number> {
    if (subscriptionIds.length === 0) return 0;
    const values: unknown[] = [];
    const body = JSON.stringify(env);
    const rows = subscriptionIds.map((sub) => {
      values.push(sub, env.id, env.type, body);
      return `(?, ?, ?, 'pending', 0, now(), ?::jsonb, now(), now())`;
    });
    const made = await this.sql<{ id: string }>(
      `insert into omoi_webhook_delivery (subscription_id, event_id, event_type, status, attempts, next_attempt_at, payload, created_at, updated_at)
       values ${rows.join(', ')} on conflict (subscription_id, event_id) do nothing returning id`, values);
    return made.length;
  }

  /** One subscription's deliveries newest first, optionally of one status. */
  async list(subscriptionId: string, filter: { status?: DeliveryStatus; limit?: number } = {}): Promise<WebhookDeliveryView[]> {
    const params: unknown[] = [subscriptionId];
    let where = 'subscription_id = ?';
    if (filter.status !== undefined) { where += ' and status = ?'; params.push(filter.status); }
    const rows = await this.sql<Record<string, unknown>>(
      `select id::int as id, subscription_id, event_id, event_type, status, attempts, next_attempt_at, last_http_status, last_answer,
              last_error_code, last_error, created_at, updated_at, delivered_at
       from omoi_webhook_delivery where ${where} order by id desc limit ?`, [...params, filter.limit ?? 100]);
    return rows.map((r) => ({
      ...r,
      next_attempt_at: r.status === DeliveryStatus.pending ? isoOrNull(r.next_attempt_at) : null,
      created_at: isoOrNull(r.created_at)!, updated_at: isoOrNull(r.updated_at)!, delivered_at: isoOrNull(r.delivered_at),
    }) as WebhookDeliveryView);
  }

  private async sql<T>(query: string, params: unknown[]): Promise<T[]> {
    return (await this.db.em().getConnection().execute(query, params)) as T[];
  }
}
