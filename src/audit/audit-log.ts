import { errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { AuditRow, Database } from '../persistence/index.ts';

/** Where a command came in: the HTTP API, `omoi.in.>` from any NATS client, `omoi pub`, or a running task's own API (src/task-api). */
export const AuditChannel = { http: 'http', nats: 'nats', cli: 'cli', task: 'task' } as const;
export type AuditChannel = (typeof AuditChannel)[keyof typeof AuditChannel];

/** One state-changing call. `outcome` is `accepted` or `refused:<code>`. Never holds a token. */
export interface AuditEntry {
  principal: string;
  role: string | null;
  channel: AuditChannel;
  /** The message type (`ticket.cancel`) or route action (`token.create`). */
  command: string;
  /** The ticket, task (`ticket/task`), join, agent or token the call was about. */
  target?: string | null;
  outcome: string;
  message_id?: string | null;
}

export interface AuditQuery { limit: number; principal?: string; command?: string }

/** The audit log as the HTTP layer and the ingress router see it. */
export interface AuditLog {
  /** Appends one row; a second row with the same channel and message id is dropped. Never throws: a failure is logged. */
  record(entry: AuditEntry): Promise<void>;
  /** The newest rows first, filtered by exact principal and command. */
  list(query: AuditQuery): Promise<AuditRow[]>;
}

/** Longest value a column holds; longer ones (a path parameter can be 300 characters) are cut. */
const COLUMN_LENGTH = 255;

/**
 * `omoi_audit`, append-only: this module only inserts and selects. A failed insert is logged
 * at error level and swallowed, so that an audit outage never stalls the ingress consumer or
 * turns an accepted command into an error answer.
 */
export class PostgresAuditLog implements AuditLog {
  constructor(private readonly deps: { db: Database; log: Logger }) {}

  async record(entry: AuditEntry): Promise<void> {
    try {
      await this.deps.db.em().getConnection().execute(
        `insert into omoi_audit (at, principal, role, channel, command, target, outcome, message_id) values (now(), ?, ?, ?, ?, ?, ?, ?)
         on conflict (channel, message_id) do nothing`,
        [cut(entry.principal), cut(entry.role), entry.channel, cut(entry.command), cut(entry.target), cut(entry.outcome), cut(entry.message_id)],
      );
    } catch (err) {
      this.deps.log.error({ err: errorMessage(err), channel: entry.channel, command: entry.command, outcome: entry.outcome }, 'could not write the audit row');
    }
  }

  async list(query: AuditQuery): Promise<AuditRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.principal !== undefined) { where.push('principal = ?'); params.push(query.principal); }
    if (query.command !== undefined) { where.push('command = ?'); params.push(query.command); }
    const rows: AuditRow[] = await this.deps.db.em().getConnection().execute(
      `select id, at, principal, role, channel, command, target, outcome, message_id from omoi_audit
       ${where.length ? `where ${where.join(' and ')}` : ''} order by id desc limit ?`,
      [...params, query.limit],
    );
    return rows.map((r) => ({ ...r, id: Number(r.id), at: new Date(r.at) }));
  }
}

function cut(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  return value.length > COLUMN_LENGTH ? value.slice(0, COLUMN_LENGTH) : value;
}
