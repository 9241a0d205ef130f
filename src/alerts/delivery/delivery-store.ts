import type { AlertNotification } from '../alert-kinds.ts';
import type { Database } from '../../persistence/index.ts';
import { DeliveryQueue, isoOrNull, type RecordedError } from '../../delivery/delivery-queue.ts';
import { DeliveryStatus } from '../../delivery/delivery-status.ts';

/** A delivery as the dispatcher takes it. `id` is the `Omoi-Delivery` header's value. */
export interface DueDelivery {
  id: string; alert_id: string; notification: number; route: string; route_type: string; attempts: number; payload: AlertNotification;
}

/** A delivery as the API and `omoi alert-deliveries` show it (no payload; its title). */
export interface DeliveryView {
  id: number; alert_id: string; notification: number; route: string; route_type: string; title: string | null;
  status: DeliveryStatus; attempts: number; next_attempt_at: string | null; last_http_status: number | null;
  last_answer: string | null; last_error_code: string | null; last_error: string | null;
  created_at: string; updated_at: string; delivered_at: string | null;
}

/** Where a notification goes: a configured route (its type), or a name no route has. */
export type RouteTarget = { name: string; type: string } | { name: string; type: null };

export type { RecordedError };

/**
 * `omoi_alert_delivery` in SQL. Every write is one statement in its own transaction; none runs
 * inside a partition transaction. Times are the database's (`now()`), the same for every node.
 */
export class DeliveryStore {
  /** Claiming and settling (`claimDue`, `delivered`, `retryLater`, `failed`, `deferred`): the shared delivery queue. */
  readonly queue: DeliveryQueue<DueDelivery>;

  constructor(private readonly db: Database) {
    this.queue = new DeliveryQueue(db, 'omoi_alert_delivery', 'd.alert_id, d.notification, d.route, d.route_type, d.payload');
  }

  /**
   * One pending row per route of the notification, due now; a route name no route has is
   * recorded `failed` with `route_unknown` (visible, never retried). Rows that exist already
   * (a redelivered event) are left alone. Resolves with the number of rows made.
   */
  async record(n: AlertNotification, targets: RouteTarget[]): Promise<number> {
    if (targets.length === 0) return 0;
    const values: unknown[] = [];
    const rows = targets.map((t) => {
      const unknown = t.type === null;
      values.push(n.alert_id, n.notification, t.name, t.type ?? 'unknown', unknown ? DeliveryStatus.failed : DeliveryStatus.pending,
        unknown ? 'route_unknown' : null, unknown ? `no route named ${JSON.stringify(t.name)} in alerts.routes` : null, JSON.stringify(n));
      return `(?, ?, ?, ?, ?, 0, now(), ?, ?, ?::jsonb, now(), now())`;
    });
    const made = await this.sql<{ id: string }>(
      `insert into omoi_alert_delivery (alert_id, notification, route, route_type, status, attempts, next_attempt_at, last_error_code, last_error, payload, created_at, updated_at)
       values ${rows.join(', ')} on conflict (alert_id, notification, route) do nothing returning id`, values);
    return made.length;
  }

  /** Deliveries newest first, of one alert and/or with one status. */
  async list(filter: { alertId?: string; status?: DeliveryStatus; limit?: number } = {}): Promise<DeliveryView[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.alertId !== undefined) { where.push('alert_id = ?'); params.push(filter.alertId); }
    if (filter.status !== undefined) { where.push('status = ?'); params.push(filter.status); }
    const rows = await this.sql<Record<string, unknown>>(
      `select id::int as id, alert_id, notification, route, route_type, payload->>'title' as title, status, attempts,
              next_attempt_at, last_http_status, last_answer, last_error_code, last_error, created_at, updated_at, delivered_at
       from omoi_alert_delivery ${where.length ? `where ${where.join(' and ')}` : ''} order by id desc limit ?`, [...params, filter.limit ?? 100]);
    return rows.map((r) => ({
      ...r,
      next_attempt_at: r.status === DeliveryStatus.pending ? isoOrNull(r.next_attempt_at) : null,
      created_at: isoOrNull(r.created_at)!, updated_at: isoOrNull(r.updated_at)!, delivered_at: isoOrNull(r.delivered_at),
    }) as DeliveryView);
  }

  private async sql<T>(query: string, params: unknown[]): Promise<T[]> {
    return (await this.db.em().getConnection().execute(query, params)) as T[];
  }
}

