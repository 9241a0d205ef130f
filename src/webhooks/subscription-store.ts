import { randomBytes } from 'node:crypto';
import { TerminalError } from '../errors.ts';
import { isSafeId } from '../ids.ts';
import type { Database } from '../persistence/index.ts';
import { isoOrNull } from '../delivery/delivery-queue.ts';
import { EVENT_GLOB_PATTERN, type EventFilter } from './event-filter.ts';

/** A subscription as the API shows it: never its secret. */
export interface SubscriptionView {
  id: string; url: string; events: string[]; ticket_id: string | null; active: boolean;
  created_by: string; created_at: string; removed_at: string | null;
}

/** A subscription as the dispatcher and the event consumer use it (with its secret). */
export interface ActiveSubscription extends EventFilter { id: string; url: string; secret: string; created_at: Date }

/** What `POST /api/webhooks` and `omoi webhooks add` take. */
export interface NewSubscription { url: unknown; events: unknown; ticket_id?: unknown; secret?: unknown }

const MAX_GLOBS = 50;
const MAX_URL = 2000;
const MIN_SECRET = 16;
const MAX_SECRET = 200;

/**
 * `omoi_webhook_subscription`. Subscriptions are managed by admins over HTTP (like tokens),
 * straight in PostgreSQL: they configure an outside integration, not an entity the actors own.
 * Input errors are 400s with stable codes (`invalid_url`, `invalid_events`, `invalid_ticket_id`,
 * `invalid_secret`); an unknown id is 404 `subscription_not_found`.
 */
export class SubscriptionStore {
  constructor(private readonly db: Database) {}

  /**
   * Validates and stores a subscription; answers it with its secret, the only time the secret
   * is shown (a generated one when none was given).
   */
  async create(input: NewSubscription, createdBy: string): Promise<SubscriptionView & { secret: string }> {
    const url = checkUrl(input.url);
    const events = checkEvents(input.events);
    const ticketId = input.ticket_id === undefined || input.ticket_id === null ? null : checkTicketId(input.ticket_id);
    const secret = input.secret === undefined ? `whsec_${randomBytes(24).toString('hex')}` : checkSecret(input.secret);
    const id = `wh-${randomBytes(8).toString('hex')}`;
    await this.sql(
      `insert into omoi_webhook_subscription (id, url, secret, events, ticket_id, active, created_by, created_at, removed_at)
       values (?, ?, ?, ?::jsonb, ?, true, ?, now(), null)`, [id, url, secret, JSON.stringify(events), ticketId, createdBy]);
    return { ...(await this.get(id))!, secret };
  }

  async get(id: string): Promise<SubscriptionView | undefined> {
    const [row] = await this.sql<Record<string, unknown>>(`select ${VIEW} from omoi_webhook_subscription where id = ?`, [id]);
    return row ? view(row) : undefined;
  }

  /** Subscriptions newest first; removed ones only with `all`. */
  async list(opts: { all?: boolean; limit?: number } = {}): Promise<SubscriptionView[]> {
    const rows = await this.sql<Record<string, unknown>>(
      `select ${VIEW} from omoi_webhook_subscription ${opts.all ? '' : 'where active'} order by created_at desc, id limit ?`, [opts.limit ?? 1000]);
    return rows.map(view);
  }

  /** Stops a subscription: no new deliveries; pending ones fail `subscription_inactive`. Its deliveries stay listed. Throws 404 for an unknown id. */
  async remove(id: string): Promise<SubscriptionView> {
    await this.sql(`update omoi_webhook_subscription set active = false, removed_at = coalesce(removed_at, now()) where id = ?`, [id]);
    const sub = await this.get(id);
    if (!sub) throw notFound(id);
    return sub;
  }

  /** Active subscriptions created at or before `at` (an event older than a subscription is not sent to it). */
  async activeAt(at: Date): Promise<ActiveSubscription[]> {
    const rows = await this.sql<{ id: string; url: string; secret: string; events: string[]; ticket_id: string | null; created_at: Date }>(
      `select id, url, secret, events, ticket_id, created_at from omoi_webhook_subscription where active and created_at <= ?`, [at]);
    return rows.map((r) => ({ ...r, created_at: new Date(r.created_at) }));
  }

  /** One subscription with its secret, if it is still active. */
  async active(id: string): Promise<ActiveSubscription | undefined> {
    const [r] = await this.sql<{ id: string; url: string; secret: string; events: string[]; ticket_id: string | null; created_at: Date }>(
      `select id, url, secret, events, ticket_id, created_at from omoi_webhook_subscription where id = ? and active`, [id]);
    return r ? { ...r, created_at: new Date(r.created_at) } : undefined;
  }

  private async sql<T>(query: string, params: unknown[]): Promise<T[]> {
    return (await this.db.em().getConnection().execute(query, params)) as T[];
  }
}

const VIEW = 'id, url, events, ticket_id, active, created_by, created_at, removed_at';

function view(r: Record<string, unknown>): SubscriptionView {
  return {
    id: r.id as string, url: r.url as string, events: r.events as string[], ticket_id: (r.ticket_id as string | null) ?? null,
    active: r.active as boolean, created_by: r.created_by as string, created_at: isoOrNull(r.created_at)!, removed_at: isoOrNull(r.removed_at),
  };
}

export function notFound(id: string): TerminalError {
  return new TerminalError('subscription_not_found', `no webhook subscription ${JSON.stringify(id)}`, { field: 'params.id' }, 404);
}

function invalid(code: string, message: string, field: string): TerminalError {
  return new TerminalError(code, message, { field }, 400);
}

function checkUrl(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_URL) throw invalid('invalid_url', `url must be an http(s) URL of at most ${MAX_URL} characters`, '/url');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('invalid_url', 'url is not a URL', '/url');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('invalid_url', 'url must start with http:// or https://', '/url');
  return value;
}

function checkEvents(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_GLOBS) {
    throw invalid('invalid_events', `events must be a list of 1 to ${MAX_GLOBS} event type globs, e.g. ["ticket.*", "task.failed"]`, '/events');
  }
  value.forEach((glob, i) => {
    if (typeof glob !== 'string' || !EVENT_GLOB_PATTERN.test(glob)) {
      throw invalid('invalid_events', `events/${i}: an event type glob is 1 to 100 letters, digits, "_", "-", "." and "*"`, `/events/${i}`);
    }
  });
  return [...new Set(value as string[])];
}

function checkTicketId(value: unknown): string {
  if (!isSafeId(value)) throw invalid('invalid_ticket_id', 'ticket_id must be a ticket id (letters, digits, "_", "-", ".", at most 64)', '/ticket_id');
  return value as string;
}

function checkSecret(value: unknown): string {
  if (typeof value !== 'string' || value.length < MIN_SECRET || value.length > MAX_SECRET || /[\u0000-\u001f]/.test(value)) {
    throw invalid('invalid_secret', `secret must be ${MIN_SECRET} to ${MAX_SECRET} printable characters (omit it to have one generated)`, '/secret');
  }
  return value;
}
