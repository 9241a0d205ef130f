/**
 * A delivery's status:
 *
 *   pending ──delivered──► delivered
 *      │ ▲
 *      │ └── retryable failure (attempts + 1, next_attempt_at = now + backoff), or an open
 *      │     breaker (deferred: attempts unchanged, last_error_code `circuit_open`)
 *      └──── refusal, or the last allowed attempt failed ──► failed
 *
 * `delivered` and `failed` are final.
 */
export const DeliveryStatus = { pending: 'pending', delivered: 'delivered', failed: 'failed' } as const;
export type DeliveryStatus = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];
export const DELIVERY_STATUSES = Object.values(DeliveryStatus);

/**
 * How one go at a delivery ended: the `outcome` label of `omoi_alert_deliveries_total` and `omoi_webhook_deliveries_total`
 * (`retry`: failed and will be tried again; `deferred`: not tried, its breaker is open).
 */
export const DELIVERY_OUTCOMES = ['delivered', 'retry', 'failed', 'deferred'] as const;
export type DeliveryOutcome = (typeof DELIVERY_OUTCOMES)[number];
