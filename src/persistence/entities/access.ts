import { EntitySchema } from '@mikro-orm/core';

/**
 * Someone who may call the HTTP API: a name, a role, and the sha256 (hex) of their token — the
 * token itself is shown once at creation and never stored. `revoked_at` set → refused.
 */
export interface PrincipalRow { id?: number; name: string; role: string; token_hash: string; created_at: Date; revoked_at: Date | null; created_by: string }
export const PrincipalEntity = new EntitySchema<PrincipalRow>({
  name: 'PrincipalRow',
  tableName: 'omoi_principal',
  properties: {
    id: { type: 'integer', primary: true, autoincrement: true },
    name: { type: 'string', unique: true },
    role: { type: 'string' },
    token_hash: { type: 'string', length: 64, unique: true },
    created_at: { type: 'Date' },
    revoked_at: { type: 'Date', nullable: true },
    created_by: { type: 'string' },
  },
});

/**
 * One state-changing call and its outcome (`accepted` or `refused:<code>`), append-only: the code
 * never updates or deletes a row. `(channel, message_id)` is unique so that a redelivered NATS
 * message, or an HTTP call repeated with the same Idempotency-Key, is recorded once.
 */
export interface AuditRow {
  id?: number; at: Date; principal: string; role: string | null; channel: string; command: string;
  target: string | null; outcome: string; message_id: string | null;
}
export const AuditEntity = new EntitySchema<AuditRow>({
  name: 'AuditRow',
  tableName: 'omoi_audit',
  uniques: [{ properties: ['channel', 'message_id'] }],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    at: { type: 'Date', index: true },
    principal: { type: 'string' },
    role: { type: 'string', nullable: true },
    channel: { type: 'string' },
    command: { type: 'string' },
    target: { type: 'string', nullable: true },
    outcome: { type: 'string' },
    message_id: { type: 'string', nullable: true },
  },
});
