import { EntitySchema } from '@mikro-orm/core';

/**
 * One person's decision at a human gate: of a ticket (`entity_kind` 'ticket', gate
 * `before_execute` or `before_delivery`) or of a spec ('spec', gate: the planning phase). `id` is the deciding command's message id, so a redelivered decision is recorded once.
 * `principal`: who (the API principal, or the node for an internal sender).
 */
export interface ApprovalRow {
  id: string; entity_kind: string; entity_id: string; gate: string; decision: 'approved' | 'rejected';
  comment: string | null; principal: string; at: Date;
}
export const ApprovalEntity = new EntitySchema<ApprovalRow>({
  name: 'ApprovalRow',
  tableName: 'omoi_approval',
  indexes: [{ properties: ['entity_kind', 'entity_id'] }],
  properties: {
    id: { type: 'string', primary: true },
    entity_kind: { type: 'string' },
    entity_id: { type: 'string' },
    gate: { type: 'string' },
    decision: { type: 'string' },
    comment: { type: 'text', nullable: true },
    principal: { type: 'string' },
    at: { type: 'Date' },
  },
});
