import type { Breakers } from '../breakers/breakers.ts';
import { RouteRejectedError, RouteUnavailableError, type RouteReply } from '../delivery/delivery-errors.ts';
import type { AttemptContext, DeliveryChannel } from '../delivery/dispatcher.ts';
import type { DeliveryOutcome } from '../delivery/delivery-status.ts';
import { postJson } from '../delivery/http-post.ts';
import { timestampedSignatureOf } from '../delivery/signature.ts';
import type { SubscriptionStore } from './subscription-store.ts';
import type { DueWebhookDelivery } from './webhook-delivery-store.ts';

/** The breaker key of a subscription (breaker `webhook`, shared with alert routes, which are keyed by route name). */
export function subscriptionBreakerKey(subscriptionId: string): string {
  return `subscription:${subscriptionId}`;
}

/**
 * Webhook deliveries as the shared dispatcher delivers them: the event envelope as the JSON
 * body, POSTed to the subscription's URL with
 * - `Omoi-Delivery`: the delivery id, the same on every retry (receivers drop repeats by it);
 * - `Omoi-Event`: the event type; `Omoi-Timestamp`: when this attempt was made (ISO-8601 UTC);
 * - `Omoi-Signature: sha256=<hex HMAC-SHA256 of "<Omoi-Timestamp>.<body>">` with the subscription's secret.
 * Behind the `webhook` breaker keyed by subscription. A subscription removed meanwhile fails
 * the delivery, not attempted, with `subscription_inactive`.
 */
export function webhookChannel(deps: {
  breakers: Breakers; subscriptions: SubscriptionStore; now?: () => Date;
  count?: (outcome: DeliveryOutcome) => void;
}): DeliveryChannel<DueWebhookDelivery> {
  return {
    noun: 'webhook',
    logFields: (d) => ({ subscription: d.subscription_id, event: d.event_id, type: d.event_type }),
    count: (_d, outcome) => deps.count?.(outcome),
    async send(d: DueWebhookDelivery, ctx: AttemptContext): Promise<RouteReply> {
      const sub = await deps.subscriptions.active(d.subscription_id);
      if (!sub) throw new RouteRejectedError('subscription_inactive', `webhook subscription ${d.subscription_id} was removed`, {}, false);
      const body = JSON.stringify(d.payload);
      return deps.breakers.run('webhook', subscriptionBreakerKey(sub.id), () => {
        const timestamp = (deps.now?.() ?? new Date()).toISOString();
        return postJson(sub.url, body, {
          'user-agent': 'omoi-webhooks',
          'omoi-delivery': d.id,
          'omoi-event': d.event_type,
          'omoi-timestamp': timestamp,
          'omoi-signature': timestampedSignatureOf(sub.secret, timestamp, body),
        }, ctx);
      }, (err) => err instanceof RouteUnavailableError);
    },
  };
}
