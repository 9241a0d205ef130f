import { EntitySchema } from '@mikro-orm/core';

/**
 * One alert (src/actors/alert-actor.ts): raised → acknowledged → resolved. Open (not resolved)
 * rows are at most one per fingerprint: its AlertActor is the only writer. `count` counts every
 * raise since it opened; `notification` counts the `alert.raised` events it published.
 */
export interface AlertRow {
  id: string; fingerprint: string; kind: string; severity: string; status: string; title: string;
  fields: Record<string, string>; count: number; notification: number;
  first_raised_at: Date; last_raised_at: Date; last_notified_at: Date;
  /** Name (or `#<index>`) of the config rule that matched; null: none did (dashboard only). */
  rule: string | null; routes: string[]; dedupe_window_ms: number;
  acknowledged_by: string | null; acknowledged_at: Date | null; acknowledged_comment: string | null;
  /** A principal's name, or `auto` when the condition cleared. */
  resolved_by: string | null; resolved_at: Date | null; resolved_reason: string | null;
  updated_at: Date; version: number;
}
export const AlertEntity = new EntitySchema<AlertRow>({
  name: 'AlertRow',
  tableName: 'omoi_alert',
  properties: {
    id: { type: 'string', primary: true },
    fingerprint: { type: 'text', index: true },
    kind: { type: 'string', index: true },
    severity: { type: 'string' },
    status: { type: 'string', index: true },
    title: { type: 'text' },
    fields: { type: 'json' },
    count: { type: 'integer' },
    notification: { type: 'integer' },
    first_raised_at: { type: 'Date' },
    last_raised_at: { type: 'Date' },
    last_notified_at: { type: 'Date' },
    rule: { type: 'string', nullable: true },
    routes: { type: 'json' },
    dedupe_window_ms: { type: 'integer' },
    acknowledged_by: { type: 'string', nullable: true },
    acknowledged_at: { type: 'Date', nullable: true },
    acknowledged_comment: { type: 'text', nullable: true },
    resolved_by: { type: 'string', nullable: true },
    resolved_at: { type: 'Date', nullable: true, index: true },
    resolved_reason: { type: 'text', nullable: true },
    updated_at: { type: 'Date' },
    version: { type: 'integer', default: 1 },
  },
});
