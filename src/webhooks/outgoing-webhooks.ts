import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { Breakers } from '../breakers/breakers.ts';
import { DeliveryDispatcher, type DispatcherTuning } from '../delivery/dispatcher.ts';
import type { Logger } from '../logging/logger.ts';
import type { Metrics } from '../metrics.ts';
import type { Database } from '../persistence/index.ts';
import { ensureWebhookDeliveryConsumer, WebhookEventConsumer } from './event-consumer.ts';
import { SubscriptionStore } from './subscription-store.ts';
import { webhookChannel } from './webhook-channel.ts';
import { WebhookDeliveryStore, type DueWebhookDelivery } from './webhook-delivery-store.ts';

export interface OutgoingWebhooksDeps {
  js: JetStreamClient; jsm: JetStreamManager; db: Database; breakers: Breakers; log: Logger; metrics: Metrics;
  config: { ackWaitMs: number; webhookDeliveryMaxAttempts: number };
  /** Tests shorten the dispatcher's timings. */
  tuning?: DispatcherTuning;
}

/**
 * Outgoing webhooks on this node: the shared `omoi.evt.>` consumer that records one delivery
 * per matching subscription and event, and the dispatcher (the alerts' one, src/delivery) that
 * sends them signed, with retries and a breaker per subscription. `stop()` stops the consumer,
 * then the dispatcher; safe twice.
 */
export class OutgoingWebhooks {
  private stopped?: Promise<void>;

  private constructor(private readonly consumer: WebhookEventConsumer, private readonly dispatcher: DeliveryDispatcher<DueWebhookDelivery>) {}

  static async start(deps: OutgoingWebhooksDeps): Promise<OutgoingWebhooks> {
    const log = deps.log.child({ component: 'webhooks' });
    const subscriptions = new SubscriptionStore(deps.db);
    const deliveries = new WebhookDeliveryStore(deps.db);
    const channel = webhookChannel({ breakers: deps.breakers, subscriptions, count: (outcome) => deps.metrics.webhookDeliveries.inc({ outcome }) });
    const dispatcher = new DeliveryDispatcher({ queue: deliveries.queue, channel, log, maxAttempts: deps.config.webhookDeliveryMaxAttempts, ...deps.tuning });
    await ensureWebhookDeliveryConsumer(deps.jsm, deps.config.ackWaitMs);
    const consumer = new WebhookEventConsumer({ js: deps.js, subscriptions, deliveries, log, recorded: () => dispatcher.wake() });
    await consumer.start();
    dispatcher.start();
    log.info('outgoing webhooks started');
    return new OutgoingWebhooks(consumer, dispatcher);
  }

  stop(): Promise<void> {
    return (this.stopped ??= (async () => {
      await this.consumer.stop();
      await this.dispatcher.stop();
    })());
  }
}
