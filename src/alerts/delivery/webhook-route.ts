import type { Static } from '@sinclair/typebox';
import type { WebhookRoute } from '../alerts-config.ts';
import type { RouteReply } from '../../delivery/delivery-errors.ts';
import { postJson } from '../../delivery/http-post.ts';
import { signatureOf } from '../../delivery/signature.ts';
import type { DeliveryRequest } from './route-context.ts';
import { resolveSecret } from './route-secret.ts';

export { signatureOf };

/**
 * The generic webhook: POSTs the notification with `status` as JSON, with the headers
 * `Omoi-Delivery` (the delivery id: the same on every retry, so a receiver can drop repeats),
 * `Omoi-Timestamp` (ISO-8601 UTC, when this attempt was made), the route's own `headers`, and
 * with a `secret`, `Omoi-Signature: sha256=<hex>` over the exact body sent.
 * Throws `RouteUnavailableError` (retry) or `RouteRejectedError` (give up), see `postJson`.
 */
export async function sendWebhook(route: Static<typeof WebhookRoute>, req: DeliveryRequest): Promise<RouteReply> {
  const body = JSON.stringify({ ...req.notification, status: req.status });
  const headers: Record<string, string> = {
    ...route.headers,
    'user-agent': 'omoi-alerts',
    'omoi-delivery': req.deliveryId,
    'omoi-timestamp': (req.now?.() ?? new Date()).toISOString(),
  };
  if (route.secret !== undefined) {
    headers['omoi-signature'] = signatureOf(resolveSecret(route.secret, { route: req.routeName, setting: 'secret' }, req.env), body);
  }
  return postJson(route.url, body, headers, { timeoutMs: req.timeoutMs, signal: req.signal });
}
