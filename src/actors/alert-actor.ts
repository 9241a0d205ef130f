import { createHash } from 'node:crypto';
import { ConflictError, NotFoundError, TerminalError } from '../errors.ts';
import type { AlertKind, AlertNotification, AlertSeverity } from '../alerts/alert-kinds.ts';
import type { AlertsConfig } from '../alerts/alerts-config.ts';
import { decide } from '../alerts/rules.ts';
import { emit } from '../messaging/typed.ts';
import { AlertEntity, type AlertRow, type EntityManager } from '../persistence/index.ts';
import { ActorType, type Envelope, type PayloadOf } from '../protocol/index.ts';
import type { CommandMail } from './actor-runtime.ts';
import type { ActorContext, EntityBehavior } from './entity-host.ts';

type AlertCommand = 'alert.raise' | 'alert.clear' | 'alert.acknowledge' | 'alert.resolve';
const ALERT_COMMANDS: ReadonlySet<string> = new Set<AlertCommand>(['alert.raise', 'alert.clear', 'alert.acknowledge', 'alert.resolve']);

export interface AlertDeps {
  /** The `alerts:` section of the config file: rules decide severity, dedupe window and routes. */
  config: () => AlertsConfig;
  /** Told when an alert opens (for `omoi_alerts_raised_total`), after the commit. */
  opened?: (kind: AlertKind, severity: AlertSeverity) => void;
}

/**
 * AlertActor: one per fingerprint, in the fingerprint's partition. Its state is the open alert
 * of that fingerprint (raised or acknowledged), or none.
 *
 * Life of an alert (each step one `omoi_alert` write and one event, in the command's transaction):
 *
 *   (none) --raise--> raised --acknowledge--> acknowledged
 *   raised | acknowledged --resolve (a person) | clear (auto)--> resolved  (no longer the state)
 *
 * 1. The first raise opens an alert; the first rule of `alerts.rules` that matches decides its
 *    severity, dedupe window and routes, recorded on the row; `alert.raised` (notification 1).
 * 2. A repeat while open counts (`count` + 1) and publishes nothing, unless the alert is still
 *    `raised` and its dedupe window passed since the last notification: then `alert.raised`
 *    again (notification + 1). An acknowledged alert never notifies again.
 * 3. After it was resolved a raise opens a new alert (a new id).
 * 4. The alert's id is derived from the id of the message that opened it, so a redelivery of
 *    that message after a failed commit opens the same alert.
 * 5. A person's command names the alert by id: an unknown id, an alert already resolved (or
 *    acknowledged, for acknowledge) is refused with a stable code.
 */
export class AlertBehavior implements EntityBehavior<AlertRow | undefined, CommandMail> {
  readonly type = ActorType.AlertActor;

  constructor(private readonly deps: AlertDeps) {}

  async hydrate(em: EntityManager, fingerprint: string): Promise<AlertRow | undefined> {
    const row = await em.findOne(AlertEntity, { fingerprint, status: { $ne: 'resolved' } }, { disableIdentityMap: true, orderBy: { first_raised_at: 'desc' } });
    return row ? { ...row } : undefined;
  }

  async handle(open: AlertRow | undefined, mail: CommandMail, ctx: ActorContext): Promise<{ state: AlertRow | undefined }> {
    const { env } = mail;
    if (!ALERT_COMMANDS.has(env.type)) throw new TerminalError('unsupported_command', `AlertActor cannot handle ${env.type}`);
    switch (env.type as AlertCommand) {
      case 'alert.raise': return { state: this.raise(open, env as Envelope<PayloadOf<'alert.raise'>>, ctx) };
      case 'alert.clear': {
        const p = env.payload as PayloadOf<'alert.clear'>;
        return { state: open ? this.close(open, 'auto', p.reason, ctx) : undefined };
      }
      case 'alert.acknowledge': {
        const p = env.payload as PayloadOf<'alert.acknowledge'>;
        const alert = await this.named(open, p.alert_id, ctx);
        if (alert.status === 'acknowledged') throw new ConflictError('alert_acknowledged', `alert ${alert.id} was already acknowledged by ${alert.acknowledged_by}`, { alert_id: alert.id });
        const by = p.by ?? env.source;
        const next: AlertRow = { ...alert, status: 'acknowledged', acknowledged_by: by, acknowledged_at: ctx.scope.now, acknowledged_comment: p.comment ?? null };
        emit(ctx.scope, 'alert.acknowledged', { alert_id: alert.id, fingerprint: alert.fingerprint, kind: alert.kind as AlertKind, by, ...(p.comment ? { comment: p.comment } : {}) });
        return { state: this.save(ctx, next, alert) };
      }
      case 'alert.resolve': {
        const p = env.payload as PayloadOf<'alert.resolve'>;
        const alert = await this.named(open, p.alert_id, ctx);
        return { state: this.close(alert, p.by ?? env.source, p.comment ?? null, ctx) };
      }
    }
  }

  /** An actor never escalates into an alert row: a failed AlertActor leaves its alert as it was. */
  async markFailed(): Promise<void> {}

  private raise(open: AlertRow | undefined, env: Envelope<PayloadOf<'alert.raise'>>, ctx: ActorContext): AlertRow {
    const p = env.payload;
    const now = ctx.scope.now;
    if (!open) {
      const d = decide(this.deps.config(), p.kind, p.fields, p.severity);
      const row: AlertRow = {
        id: alertIdOf(env.id), fingerprint: p.fingerprint, kind: p.kind, severity: d.severity, status: 'raised', title: p.title,
        fields: p.fields, count: 1, notification: 1, first_raised_at: now, last_raised_at: now, last_notified_at: now,
        rule: d.rule, routes: d.routes, dedupe_window_ms: Math.min(d.dedupeWindowMs, MAX_WINDOW_MS),
        acknowledged_by: null, acknowledged_at: null, acknowledged_comment: null, resolved_by: null, resolved_at: null, resolved_reason: null,
        updated_at: now, version: 1,
      };
      ctx.scope.uow.upsert(AlertEntity, ['id'], row);
      emit(ctx.scope, 'alert.raised', notificationOf(row));
      const opened = this.deps.opened;
      if (opened) ctx.scope.uow.afterCommit(() => opened(p.kind, d.severity));
      return row;
    }
    // A repeat: it counts; it notifies again only when still unacknowledged and its window passed.
    const due = open.status === 'raised' && now.getTime() - new Date(open.last_notified_at).getTime() >= open.dedupe_window_ms;
    const next: AlertRow = {
      ...open, count: open.count + 1, last_raised_at: now, title: p.title, fields: { ...open.fields, ...p.fields },
      ...(due ? { notification: open.notification + 1, last_notified_at: now } : {}),
    };
    if (due) emit(ctx.scope, 'alert.raised', notificationOf(next));
    return this.save(ctx, next, open);
  }

  /** Resolves an open alert; the fingerprint has no open alert after it. */
  private close(alert: AlertRow, by: string, reason: string | null, ctx: ActorContext): undefined {
    const next: AlertRow = { ...alert, status: 'resolved', resolved_by: by, resolved_at: ctx.scope.now, resolved_reason: reason };
    this.save(ctx, next, alert);
    emit(ctx.scope, 'alert.resolved', { alert_id: alert.id, fingerprint: alert.fingerprint, kind: alert.kind as AlertKind, by, ...(reason ? { reason } : {}), count: alert.count });
    return undefined;
  }

  /** The open alert a person named, or the refusal that says why it is not. */
  private async named(open: AlertRow | undefined, alertId: string, ctx: ActorContext): Promise<AlertRow> {
    if (open?.id === alertId) return open;
    await ctx.scope.uow.flush(AlertEntity);
    const row = await ctx.scope.em.findOne(AlertEntity, { id: alertId }, { disableIdentityMap: true });
    if (!row) throw new NotFoundError('alert', alertId);
    if (row.status === 'resolved') throw new ConflictError('alert_resolved', `alert ${alertId} was already resolved by ${row.resolved_by}`, { alert_id: alertId });
    // Open, but under another fingerprint than the command named: routed to the wrong actor.
    throw new TerminalError('alert_fingerprint_mismatch', `alert ${alertId} has fingerprint ${JSON.stringify(row.fingerprint)}, not the one the command named`, { alert_id: alertId });
  }

  /** Writes `next` (write-behind) as the version after `previous`; returns what was written. */
  private save(ctx: ActorContext, next: AlertRow, previous: AlertRow): AlertRow {
    const row = { ...next, updated_at: ctx.scope.now, version: previous.version + 1 };
    ctx.scope.uow.upsert(AlertEntity, ['id'], row);
    return row;
  }
}

/** The longest dedupe window the row keeps (an `int` column of milliseconds: about 24 days). */
const MAX_WINDOW_MS = 2 ** 31 - 1;

/** `al-<16 hex>` from the id of the message that opened the alert (so a redelivery opens the same one). */
export function alertIdOf(messageId: string): string {
  return `al-${createHash('sha256').update(messageId).digest('hex').slice(0, 16)}`;
}

/** The payload of `alert.raised` for the row as it is now. */
export function notificationOf(row: AlertRow): AlertNotification {
  return {
    alert_id: row.id, kind: row.kind as AlertKind, severity: row.severity as AlertSeverity, fingerprint: row.fingerprint, title: row.title,
    fields: row.fields, count: row.count, first_raised_at: new Date(row.first_raised_at).toISOString(), last_raised_at: new Date(row.last_raised_at).toISOString(),
    routes: row.routes, notification: row.notification,
  };
}
