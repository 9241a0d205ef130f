/**
 * Defaults and choices the command tree shows in `--help`. Kept apart from the commands so
 * that parsing and help load nothing heavy (the commands import the whole node lazily).
 */
export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_NODE_URL = 'http://127.0.0.1:7070';
export const DLQ_STATUSES = ['open', 'retried', 'discarded', 'all'] as const;
export type DlqStatus = (typeof DLQ_STATUSES)[number];
/** Statuses of an alert delivery (src/delivery/delivery-status.ts; webhook deliveries share them). */
export const ALERT_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type AlertDeliveryStatus = (typeof ALERT_DELIVERY_STATUSES)[number];
