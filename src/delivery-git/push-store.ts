import { DeliveryQueue } from '../delivery/delivery-queue.ts';
import type { Database } from '../persistence/index.ts';
import type { PullRequestOutcome } from './pull-request.ts';
import type { PushOrder } from './push-order.ts';

/** A push as the dispatcher takes it. */
export interface DuePush {
  id: string; attempts: number; ticket_id: string; round: number; head: string; payload: PushOrder;
  pull_request_done: boolean; pull_request_url: string | null; pull_request_error: string | null;
}

/** A push that ended (delivered or failed): what its ticket is told (`ticket.delivery_report`). */
export interface SettledPush {
  ticket_id: string; round: number; head: string; status: 'delivered' | 'failed'; attempts: number;
  last_error: string | null; pull_request_url: string | null; pull_request_error: string | null;
}

const PUSH_COLUMNS = 'd.ticket_id, d.round, d.head, d.payload, d.pull_request_done, d.pull_request_url, d.pull_request_error';

/**
 * `omoi_ticket_push` in SQL. Rows are written by the TicketActor (in its transaction, with the
 * ticket's `delivery_status`); claiming and settling is the shared `DeliveryQueue`.
 */
export class PushStore {
  readonly queue: DeliveryQueue<DuePush>;

  constructor(private readonly db: Database) {
    this.queue = new DeliveryQueue(db, 'omoi_ticket_push', PUSH_COLUMNS);
  }

  /** The pull request command ran (once per push: a retried push does not run it again). */
  async recordPullRequest(id: string, outcome: PullRequestOutcome): Promise<void> {
    await this.sql(`update omoi_ticket_push set pull_request_done = true, pull_request_url = ?, pull_request_error = ?, updated_at = now() where id = ?::bigint`,
      [outcome.url ?? null, outcome.error ?? null, id]);
  }

  async settled(id: string): Promise<SettledPush | undefined> {
    return (await this.sql<SettledPush>(`select ${SETTLED} from omoi_ticket_push where id = ?::bigint and status <> 'pending'`, [id]))[0];
  }

  /**
   * Pushes that ended more than `graceMs` ago whose ticket still shows them `pushing`: their
   * report was lost (the node died between settling the row and publishing it).
   */
  async unreported(graceMs: number, limit = 100): Promise<SettledPush[]> {
    return this.sql<SettledPush>(
      `select ${SETTLED.split(', ').map((c) => `p.${c}`).join(', ')} from omoi_ticket_push p join omoi_ticket t on t.id = p.ticket_id
        where t.delivery_status = 'pushing' and t.delivery_round = p.round and p.status <> 'pending'
          and p.updated_at < now() - ?::int * interval '1 millisecond' limit ?`, [graceMs, limit]);
  }

  private async sql<T>(query: string, params: unknown[]): Promise<T[]> {
    return (await this.db.em().getConnection().execute(query, params)) as T[];
  }
}

const SETTLED = 'ticket_id, round, head, status, attempts, last_error, pull_request_url, pull_request_error';
