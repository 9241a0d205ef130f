/**
 * Alert delivery: `alert.raised` notifications to the routes they name (webhook, Slack,
 * e-mail), recorded in `omoi_alert_delivery`, retried with backoff, behind breakers.
 */
export { AlertDelivery, type AlertDeliveryDeps } from './alert-delivery.ts';
export { ALERT_DELIVERY_CONSUMER } from './alert-raised-consumer.ts';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../../delivery/backoff.ts';
export { RouteRejectedError, RouteUnavailableError, type RouteReply } from '../../delivery/delivery-errors.ts';
export { DELIVERY_OUTCOMES, DELIVERY_STATUSES, DeliveryStatus, type DeliveryOutcome } from '../../delivery/delivery-status.ts';
export { DeliveryStore, type DeliveryView } from './delivery-store.ts';
export { ROUTE_TYPES, breakerOf } from './route-sender.ts';
export { emailSubject, emailText } from './email-route.ts';
export { slackMessage } from './slack-route.ts';
export { signatureOf } from './webhook-route.ts';
export { sendTestNotification, testNotification } from './test-notification.ts';
