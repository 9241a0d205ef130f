import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import { nanos } from '@nats-io/nats-core';
import { errorMessage } from '../../errors.ts';
import type { Logger } from '../../logging/logger.ts';
import { pullOptions, upsertConsumer } from '../../messaging/streams.ts';
import { decodeEnvelope, Streams, Subjects } from '../../protocol/index.ts';
import type { AlertNotification } from '../alert-kinds.ts';
import type { AlertRoute } from '../alerts-config.ts';
import type { DeliveryStore, RouteTarget } from './delivery-store.ts';

/** The durable every node shares: each `alert.raised` is recorded by one node of the cluster. */
export const ALERT_DELIVERY_CONSUMER = 'alert-delivery';

/** How long a message whose rows could not be written (database down) waits before it comes back, ms. */
const RETRY_MS = 2_000;

/**
 * Creates (or updates) the shared durable on `omoi.evt.alert.raised`. It starts at the
 * stream's beginning: a notification published before the first node made it is not lost,
 * and one seen before finds its rows and delivers nothing again.
 */
export async function ensureAlertDeliveryConsumer(jsm: JetStreamManager, ackWaitMs: number): Promise<void> {
  await upsertConsumer(jsm, Streams.events, {
    durable_name: ALERT_DELIVERY_CONSUMER, filter_subject: Subjects.event('alert.raised'),
    ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: nanos(ackWaitMs), max_ack_pending: 1_000,
  });
}

/**
 * Turns `alert.raised` events into delivery rows and acks them:
 * 1. An event that does not decode (bad JSON, schema) is terminated and logged; it never
 *    stalls the consumer.
 * 2. Its rows (one per route it names; `dashboard` is implicit and not a row) are written
 *    before the ack; a redelivered event finds them and writes none (unique key).
 * 3. A database error naks the event (back in `RETRY_MS`); nothing is delivered from here:
 *    a dead route cannot slow this consumer.
 */
export class AlertRaisedConsumer {
  private messages?: ConsumerMessages;
  private done?: Promise<void>;

  constructor(private readonly deps: {
    js: JetStreamClient; store: DeliveryStore; log: Logger;
    /** The configured routes (`alerts.routes`). */
    routes: () => Record<string, AlertRoute>;
    /** Told after rows were made (the dispatcher delivers them now rather than at its next poll). */
    recorded?: () => void;
  }) {}

  async start(): Promise<void> {
    const consumer = await this.deps.js.consumers.get(Streams.events, ALERT_DELIVERY_CONSUMER);
    this.messages = await consumer.consume(pullOptions(64));
    const messages = this.messages;
    this.done = (async () => {
      for await (const m of messages) await this.handle(m);
    })().catch((err) => this.deps.log.error({ err: errorMessage(err) }, 'alert.raised consumer ended'));
  }

  /** Stops pulling; the event in hand is finished (or left unacked, to come back). Safe twice. */
  async stop(): Promise<void> {
    await this.messages?.close().catch(() => undefined);
    await this.done;
  }

  private async handle(m: JsMsg): Promise<void> {
    let n: AlertNotification;
    try {
      const env = decodeEnvelope(m.data);
      if (env.type !== 'alert.raised') throw new Error(`a ${env.type} event on ${m.subject}`);
      n = env.payload as AlertNotification;
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), subject: m.subject, seq: m.seq }, 'ignored an alert.raised event that does not decode');
      m.term();
      return;
    }
    const routes = this.deps.routes();
    const targets: RouteTarget[] = [...new Set(n.routes)]
      .filter((name) => name !== 'dashboard' || Object.hasOwn(routes, name))
      .map((name) => (Object.hasOwn(routes, name) ? { name, type: routes[name]!.type } : { name, type: null }));
    try {
      const made = await this.deps.store.record(n, targets);
      m.ack();
      if (made > 0) {
        this.deps.log.debug({ alert: n.alert_id, notification: n.notification, routes: targets.map((t) => t.name) }, 'alert notification queued for delivery');
        this.deps.recorded?.();
      }
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), alert: n.alert_id }, 'could not record alert deliveries: the event comes back');
      m.nak(RETRY_MS);
    }
  }
}
