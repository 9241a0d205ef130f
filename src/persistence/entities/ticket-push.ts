import { EntitySchema } from '@mikro-orm/core';
import { DELIVERY_STATE_COLUMNS } from './delivery-columns.ts';

/**
 * One push of a completed ticket's head to its delivery remote (round `round`: a `ticket.deliver`
 * after a failure is a new round), delivered by the shared dispatcher (src/delivery) with retries.
 * `payload`: what to push where (`PushOrder`, src/delivery-git/push-order.ts). The pull request
 * command's outcome is kept here too, so a retried push never opens a second one.
 */
export interface TicketPushRow {
  id?: number; ticket_id: string; round: number; head: string;
  status: 'pending' | 'delivered' | 'failed'; attempts: number; next_attempt_at: Date;
  last_http_status: number | null; last_answer: string | null; last_error_code: string | null; last_error: string | null;
  payload: unknown; created_at: Date; updated_at: Date; delivered_at: Date | null;
  pull_request_done?: boolean; pull_request_url?: string | null; pull_request_error?: string | null;
}
export const TicketPushEntity = new EntitySchema<TicketPushRow>({
  name: 'TicketPushRow',
  tableName: 'omoi_ticket_push',
  uniques: [{ properties: ['ticket_id', 'round'] }],
  indexes: [{ properties: ['status', 'next_attempt_at'] }],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    ticket_id: { type: 'string' },
    round: { type: 'integer' },
    head: { type: 'string' },
    ...DELIVERY_STATE_COLUMNS,
    pull_request_done: { type: 'boolean', default: false },
    pull_request_url: { type: 'text', nullable: true },
    pull_request_error: { type: 'text', nullable: true },
  },
});
