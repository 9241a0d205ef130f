import { EntitySchema } from '@mikro-orm/core';
import { DELIVERY_STATE_COLUMNS } from './delivery-columns.ts';

/**
 * One notification of an alert (`alert.raised`) on its way to one route: at most one row per
 * `(alert_id, notification, route)`, so a redelivered event delivers nothing twice. `pending`
 * rows are taken by any node's dispatcher once `next_attempt_at` is due (a taken row's
 * `next_attempt_at` moves past the delivery's timeout: a node that dies while delivering
 * leaves it to another). `attempts` counts calls made (a deferral by an open breaker is no
 * attempt); `last_error_code` is the stable code of the last failure (`circuit_open`,
 * `route_unavailable`, `route_timeout`, `route_refused`, `secret_missing`, `route_unknown`).
 */
export interface AlertDeliveryRow {
  id?: number; alert_id: string; notification: number; route: string; route_type: string;
  status: 'pending' | 'delivered' | 'failed'; attempts: number; next_attempt_at: Date;
  last_http_status: number | null; last_answer: string | null; last_error_code: string | null; last_error: string | null;
  payload: unknown; created_at: Date; updated_at: Date; delivered_at: Date | null;
}
export const AlertDeliveryEntity = new EntitySchema<AlertDeliveryRow>({
  name: 'AlertDeliveryRow',
  tableName: 'omoi_alert_delivery',
  uniques: [{ properties: ['alert_id', 'notification', 'route'] }],
  indexes: [{ properties: ['status', 'next_attempt_at'] }],
  properties: {
    id: { type: 'bigint', primary: true, autoincrement: true },
    alert_id: { type: 'string' },
    notification: { type: 'integer' },
    route: { type: 'string' },
    route_type: { type: 'string' },
    ...DELIVERY_STATE_COLUMNS,
  },
});
