import type { Database } from '../../persistence/index.ts';

/** `omoi_github_delivery` (deliveries seen, by `X-GitHub-Delivery`) and `omoi_github_issue_ticket` (issue → ticket). */
export class GithubStore {
  constructor(private readonly db: Database) {}

  /** Whether this delivery id was handled already. */
  async seen(deliveryId: string): Promise<boolean> {
    return (await this.sql(`select 1 from omoi_github_delivery where delivery_id = ?`, [deliveryId])).length > 0;
  }

  /** Records a handled delivery; a second one with the same id is dropped. */
  async handled(row: { delivery_id: string; event: string; action: string | null; outcome: string; ticket_id: string | null }): Promise<void> {
    await this.sql(
      `insert into omoi_github_delivery (delivery_id, event, action, outcome, ticket_id, received_at) values (?, ?, ?, ?, ?, now())
       on conflict (delivery_id) do nothing`, [row.delivery_id, row.event, row.action, row.outcome, row.ticket_id]);
  }

  /** Remembers the ticket an issue became. */
  async linkIssue(ticketId: string, repository: string, issue: number): Promise<void> {
    await this.sql(
      `insert into omoi_github_issue_ticket (ticket_id, repository, issue, created_at) values (?, ?, ?, now()) on conflict (ticket_id) do nothing`,
      [ticketId, repository, issue]);
  }

  /** The newest ticket made from the issue, if any. */
  async ticketOf(repository: string, issue: number): Promise<string | undefined> {
    const [row] = await this.sql<{ ticket_id: string }>(
      `select ticket_id from omoi_github_issue_ticket where repository = ? and issue = ? order by created_at desc, ticket_id desc limit 1`, [repository, issue]);
    return row?.ticket_id;
  }

  private async sql<T = unknown>(query: string, params: unknown[]): Promise<T[]> {
    return (await this.db.em().getConnection().execute(query, params)) as T[];
  }
}
