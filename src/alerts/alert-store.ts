import { ConflictError, NotFoundError } from '../errors.ts';
import { AlertEntity, type AlertRow, type Database } from '../persistence/index.ts';
import { ALERT_KINDS, type AlertKind } from './alert-kinds.ts';

/** `open` = raised or acknowledged; the others are statuses. */
export const ALERT_FILTERS = ['open', 'raised', 'acknowledged', 'resolved', 'all'] as const;
export type AlertFilter = (typeof ALERT_FILTERS)[number];

const SEVERITY_ORDER: Record<string, number> = { critical: 0, warning: 1, info: 2 };

/**
 * Reads of `omoi_alert` for people (HTTP, the CLI, `/metrics`). Writes belong to the
 * AlertActors; this only reads, and checks that a person's command names an alert it can act on.
 */
export class AlertStore {
  constructor(private readonly db: Database) {}

  /** Open first, then by severity, then the most recently raised; `limit` rows at most. */
  async list(filter: { status?: AlertFilter; kind?: AlertKind; limit?: number } = {}): Promise<AlertRow[]> {
    const status = filter.status ?? 'open';
    const limit = filter.limit ?? 200;
    const find = async (statusWhere: unknown, n: number) => n <= 0 ? [] : this.db.em().find(
      AlertEntity, { status: statusWhere, ...(filter.kind ? { kind: filter.kind } : {}) } as never, { orderBy: { last_raised_at: 'desc' }, limit: n },
    );
    // `all`: the open ones first, so a long history cannot push them past the limit.
    const open = status === 'resolved' ? [] : await find(status === 'open' || status === 'all' ? { $ne: 'resolved' } : status, limit);
    const resolved = status === 'resolved' || status === 'all' ? await find('resolved', limit - open.length) : [];
    const bySeverity = (a: AlertRow, b: AlertRow) => (SEVERITY_ORDER[a.severity] ?? 9) - (SEVERITY_ORDER[b.severity] ?? 9);
    return [...open.sort(bySeverity), ...resolved];
  }

  async get(id: string): Promise<AlertRow | undefined> {
    return (await this.db.em().findOne(AlertEntity, { id })) ?? undefined;
  }

  /**
   * The alert a person acts on: `NotFoundError` for an unknown id, `ConflictError`
   * (`alert_resolved`, `alert_acknowledged`) when the action can no longer apply. Its AlertActor
   * checks again when the command arrives: this answers the common case at once.
   */
  async actionable(id: string, action: 'acknowledge' | 'resolve'): Promise<AlertRow> {
    const row = await this.get(id);
    if (!row) throw new NotFoundError('alert', id);
    if (row.status === 'resolved') throw new ConflictError('alert_resolved', `alert ${id} was already resolved by ${row.resolved_by}`, { alert_id: id });
    if (action === 'acknowledge' && row.status === 'acknowledged') throw new ConflictError('alert_acknowledged', `alert ${id} was already acknowledged by ${row.acknowledged_by}`, { alert_id: id });
    return row;
  }

  /** Open alerts by kind, every kind present (0 when none). */
  async countOpen(): Promise<Record<AlertKind, number>> {
    const rows = await this.db.em().getConnection().execute(`select kind, count(*)::int as n from omoi_alert where status <> 'resolved' group by kind`) as Array<{ kind: string; n: number }>;
    const counts = Object.fromEntries(ALERT_KINDS.map((k) => [k, 0])) as Record<AlertKind, number>;
    for (const r of rows) if (r.kind in counts) counts[r.kind as AlertKind] = r.n;
    return counts;
  }
}
