import type { Database } from '../persistence/index.ts';
import type { RouteReply } from './delivery-errors.ts';

/** The columns every delivery table has and the dispatcher needs: its id (the `Omoi-Delivery` value) and attempts so far. */
export interface QueuedDelivery { id: string; attempts: number }

/** A failure or deferral as recorded: its stable code, its message, and what the receiver answered. */
export interface RecordedError { code: string; message: string; reply?: RouteReply }

/**
 * The queue half of a delivery table (`omoi_alert_delivery`, `omoi_webhook_delivery`): both
 * have `id bigserial, status, attempts, next_attempt_at, last_http_status, last_answer,
 * last_error_code, last_error, updated_at, delivered_at` (see `DeliveryStatus`). Every write
 * is one statement in its own transaction; times are the database's (`now()`), the same for
 * every node. `returning` is the SQL select list a claimed row is read with (aliased `d`).
 */
export class DeliveryQueue<D extends QueuedDelivery> {
  constructor(private readonly db: Database, private readonly table: string, private readonly returning: string) {}

  /**
   * Takes up to `limit` due pending deliveries, oldest due first, skipping rows another node is
   * taking (`for update skip locked`), and moves their `next_attempt_at` `holdMs` ahead: until
   * then no other node takes them; if this node dies meanwhile, another one will after.
   */
  async claimDue(limit: number, holdMs: number): Promise<D[]> {
    return this.sql<D>(
      `update ${this.table} d set next_attempt_at = now() + ?::int * interval '1 millisecond'
       where d.id in (select id from ${this.table} where status = 'pending' and next_attempt_at <= now()
                      order by next_attempt_at limit ? for update skip locked)
       returning d.id::text as id, d.attempts, ${this.returning}`, [holdMs, limit]);
  }

  /** The attempt succeeded. `false` if the row changed meanwhile (another node took it after this one's hold expired). */
  async delivered(d: D, reply: RouteReply): Promise<boolean> {
    return this.settle(d, `status = 'delivered', attempts = attempts + 1, delivered_at = now(), next_attempt_at = now(),
      last_http_status = ?, last_answer = ?, last_error_code = null, last_error = null`, [reply.httpStatus ?? null, reply.answer ?? null]);
  }

  /** The attempt failed retryably: tried again after `delayMs`. */
  async retryLater(d: D, error: RecordedError, delayMs: number): Promise<boolean> {
    return this.settle(d, `attempts = attempts + 1, next_attempt_at = now() + ?::int * interval '1 millisecond', ${LAST_ERROR}`, [delayMs, ...errorValues(error)]);
  }

  /** The attempt failed for good (refused, or the last one allowed); `attempted: false` when no call was made. */
  async failed(d: D, error: RecordedError, attempted = true): Promise<boolean> {
    return this.settle(d, `status = 'failed', attempts = attempts + ${attempted ? 1 : 0}, next_attempt_at = now(), ${LAST_ERROR}`, errorValues(error));
  }

  /** Not attempted (its breaker is open): due again after `delayMs`, attempts unchanged. */
  async deferred(d: D, error: RecordedError, delayMs: number): Promise<boolean> {
    return this.settle(d, `next_attempt_at = now() + ?::int * interval '1 millisecond', last_error_code = ?, last_error = ?`, [delayMs, error.code, error.message]);
  }

  private async settle(d: D, set: string, params: unknown[]): Promise<boolean> {
    const rows = await this.sql(
      `update ${this.table} set ${set}, updated_at = now() where id = ?::bigint and status = 'pending' and attempts = ? returning id`,
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

/** A timestamp column as ISO-8601 UTC, or null. */
export function isoOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : new Date(value as string).toISOString();
}
