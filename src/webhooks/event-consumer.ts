import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { pullOptions, upsertConsumer } from '../messaging/streams.ts';
import { decodeEnvelope, Streams, Subjects, type Envelope } from '../protocol/index.ts';
import { filterMatches } from './event-filter.ts';
import type { SubscriptionStore } from './subscription-store.ts';
import type { WebhookDeliveryStore } from './webhook-delivery-store.ts';

/** The durable every node shares: each domain event is matched against the subscriptions by one node of the cluster. */
export const WEBHOOK_DELIVERY_CONSUMER = 'webhook-delivery';

/** How long an event whose rows could not be written (database down) waits before it comes back, ms. */
const RETRY_MS = 2_000;

/**
 * Creates (or updates) the shared durable on `omoi.evt.>`. It starts with new events: a
 * subscription receives events published after it was made, never the stream's history.
 */
export async function ensureWebhookDeliveryConsumer(jsm: JetStreamManager, ackWaitMs: number): Promise<void> {
  await upsertConsumer(jsm, Streams.events, {
    durable_name: WEBHOOK_DELIVERY_CONSUMER, filter_subject: Subjects.eventsAll,
    ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, ack_wait: nanos(ackWaitMs), max_ack_pending: 1_000,
  });
}

/**
 * Turns domain events into webhook delivery rows and acks them:
 * 1. An event that does not decode is terminated and logged; it never stalls the consumer.
 * 2. It goes to every active subscription made before the event (its `time`) whose filter
 *    matches: one row per subscription, written before the ack; a redelivered event finds them
 *    and writes none (unique `(subscription_id, event_id)`).
 * 3. A database error naks the event (back in `RETRY_MS`); nothing is sent from here: a slow
 *    or dead subscriber cannot slow this consumer, the actors, or other subscribers.
 */
export class WebhookEventConsumer {
  private messages?: ConsumerMessages;
  private done?: Promise<void>;

  constructor(private readonly deps: {
    js: JetStreamClient; subscriptions: SubscriptionStore; deliveries: WebhookDeliveryStore; log: Logger;
    /** Told after rows were made (the dispatcher delivers them now rather than at its next poll). */
    recorded?: () => void;
  }) {}

  async start(): Promise<void> {
    const consumer = await this.deps.js.consumers.get(Streams.events, WEBHOOK_DELIVERY_CONSUMER);
    this.messages = await consumer.consume(pullOptions(64));
    const messages = this.messages;
    this.done = (async () => {
      for await (const m of messages) await this.handle(m);
    })().catch((err) => this.deps.log.error({ err: errorMessage(err) }, 'webhook event consumer ended'));
  }

  /** Stops pulling; the event in hand is finished (or left unacked, to come back). Safe twice. */
  async stop(): Promise<void> {
    await this.messages?.close().catch(() => undefined);
    await this.done;
  }

  private async handle(m: JsMsg): Promise<void> {
    let env: Envelope;
    let at: Date;
    try {
      env = decodeEnvelope(m.data);
      at = new Date(env.time);
      if (Number.isNaN(at.getTime())) throw new Error(`time ${JSON.stringify(env.time)} is not a date`);
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), subject: m.subject, seq: m.seq }, 'ignored an event that does not decode');
      m.term();
      return;
    }
    try {
      const subs = (await this.deps.subscriptions.activeAt(at)).filter((s) => filterMatches(s, env));
      const made = await this.deps.deliveries.record(env, subs.map((s) => s.id));
      m.ack();
      if (made > 0) {
        this.deps.log.debug({ event: env.id, type: env.type, subscriptions: subs.map((s) => s.id) }, 'event queued for webhook delivery');
        this.deps.recorded?.();
      }
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), event: env.id }, 'could not record webhook deliveries: the event comes back');
      m.nak(RETRY_MS);
    }
  }
}
