import type { AlertNotification } from '../alert-kinds.ts';
import type { Database } from '../../persistence/index.ts';
import type { RouteReply } from './delivery-errors.ts';
import { DeliveryStatus } from './delivery-status.ts';

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

/** A failure or deferral as recorded: its stable code, its message, and what the route answered. */
export interface RecordedError { code: string; message: string; reply?: RouteReply }

/**
 * `omoi_alert_delivery` in SQL. Every write is one statement in its own transaction; none runs
 * inside a partition transaction. Times are the database's (`now()`), the same for every node.
 */
export class DeliveryStore {
  constructor(private readonly db: Database) {}

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

  /**
   * Takes up to `limit` due pending deliveries, oldest due first, skipping rows another node is
   * taking (`for update skip locked`), and moves their `next_attempt_at` `holdMs` ahead: until
   * then no other node takes them; if this node dies meanwhile, another one will after.
   */
  async claimDue(limit: number, holdMs: number): Promise<DueDelivery[]> {
    return this.sql<DueDelivery>(
      `update omoi_alert_delivery d set next_attempt_at = now() + ?::int * interval '1 millisecond'
       where d.id in (select id from omoi_alert_delivery where status = 'pending' and next_attempt_at <= now()
                      order by next_attempt_at limit ? for update skip locked)
       returning d.id::text as id, d.alert_id, d.notification, d.route, d.route_type, d.attempts, d.payload`, [holdMs, limit]);
  }

  /** The attempt succeeded. `false` if the row changed meanwhile (another node took it after this one's hold expired). */
  async delivered(d: DueDelivery, reply: RouteReply): Promise<boolean> {
    return this.settle(d, `status = 'delivered', attempts = attempts + 1, delivered_at = now(), next_attempt_at = now(),
      last_http_status = ?, last_answer = ?, last_error_code = null, last_error = null`, [reply.httpStatus ?? null, reply.answer ?? null]);
  }

  /** The attempt failed retryably: tried again after `delayMs`. */
  async retryLater(d: DueDelivery, error: RecordedError, delayMs: number): Promise<boolean> {
    return this.settle(d, `attempts = attempts + 1, next_attempt_at = now() + ?::int * interval '1 millisecond', ${LAST_ERROR}`, [delayMs, ...errorValues(error)]);
  }

  /** The attempt failed for good (refused, or the last one allowed). */
  async failed(d: DueDelivery, error: RecordedError, attempted = true): Promise<boolean> {
    return this.settle(d, `status = 'failed', attempts = attempts + ${attempted ? 1 : 0}, next_attempt_at = now(), ${LAST_ERROR}`, errorValues(error));
  }

  /** Not attempted (its breaker is open): due again after `delayMs`, attempts unchanged. */
  async deferred(d: DueDelivery, error: RecordedError, delayMs: number): Promise<boolean> {
    return this.settle(d, `next_attempt_at = now() + ?::int * interval '1 millisecond', last_error_code = ?, last_error = ?`, [delayMs, error.code, error.message]);
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
      next_attempt_at: r.status === DeliveryStatus.pending ? iso(r.next_attempt_at) : null,
      created_at: iso(r.created_at)!, updated_at: iso(r.updated_at)!, delivered_at: iso(r.delivered_at),
    }) as DeliveryView);
  }

  private async settle(d: DueDelivery, set: string, params: unknown[]): Promise<boolean> {
    const rows = await this.sql(
      `update omoi_alert_delivery set ${set}, updated_at = now() where id = ?::bigint and status = 'pending' and attempts = ? returning id`,
      [...params, d.id, d.attempts]);
    return rows.length === 1;
  }

  private async sql<T>(query: string, params: unknown[]): Promise<T[]> {
    return (await this.db.em().getConnection().execute(query, params)) as T[];
  }
}

const LAST_ERROR = 'last_http_status = ?, last_answer = ?, last_error_code = ?, last_error = ?';

function errorValues(e: RecordedError): unknown[] {
  return [e.reply?.httpStatus ?? null, e.reply?.answer ?? null, e.code, e.message];
}

function iso(value: unknown): string | null {
  return value === null || value === undefined ? null : new Date(value as string).toISOString();
}
