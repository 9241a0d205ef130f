import { createHash } from 'node:crypto';
import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { errorMessage } from '../errors.ts';
import type { PublishCommand } from '../executor/command-publisher.ts';
import type { Logger } from '../logging/logger.ts';
import { ALERT_TRIGGER_CONSUMERS, ALERT_TRIGGER_MAX_DELIVER, pullOptions } from '../messaging/streams.ts';
import { Envelope, parseJson, ProtocolError, Streams } from '../protocol/index.ts';
import { Value } from '@sinclair/typebox/value';
import { triggersOf, type AlertAction } from './triggers.ts';

/** The message id of the n-th command caused by event `eventId`: the same on every redelivery. */
export function alertCommandId(eventId: string, n: number): string {
  return `alert:${createHash('sha256').update(eventId).digest('hex').slice(0, 32)}:${n}`;
}

/**
 * Runs the trigger mapping (src/alerts/triggers.ts) over the domain events and error events of
 * the cluster, and sends the resulting `alert.raise` / `alert.clear` commands to the alerts'
 * partitions.
 *
 * 1. Two durable pull consumers on OMOI_EVT (`omoi.evt.>` and `omoi.errors.>`), shared by every
 *    node: JetStream hands each event to one node.
 * 2. Commands are published with ids derived from the event's id (`alertCommandId`): a
 *    redelivered event (a node died before its ack) publishes the same ids, deduplicated by
 *    JetStream and by the partition's processed-message table, so nothing counts twice.
 * 3. One event at a time, cluster-wide (the consumers' `max_ack_pending` is 1): the commands of
 *    an event are stored before the next event is delivered, so a condition's clear reaches its
 *    alert's partition after its raise. The price: mapping is serial (a few ms an event).
 * 4. An event is acked only after every command it caused was stored; a failed publish naks
 *    it (redelivered after a second). A malformed event is logged and acked: never retried,
 *    never stalling what follows. Delivery of alerts (routes) is elsewhere and never blocks this.
 */
export class AlertTriggerConsumer {
  private readonly running: Array<{ messages: ConsumerMessages; done: Promise<void> }> = [];

  constructor(private readonly deps: { js: JetStreamClient; log: Logger; publish: PublishCommand }) {}

  async start(): Promise<void> {
    for (const name of Object.values(ALERT_TRIGGER_CONSUMERS)) {
      const consumer = await this.deps.js.consumers.get(Streams.events, name);
      const messages = await consumer.consume(pullOptions(256));
      const done = (async () => {
        for await (const m of messages) await this.handle(m);
      })().catch((err) => this.deps.log.error({ err: errorMessage(err), consumer: name }, 'alert trigger consumer ended'));
      this.running.push({ messages, done });
    }
  }

  async drain(): Promise<void> {
    await Promise.all(this.running.map(async (r) => {
      await r.messages.close().catch(() => undefined);
      await r.done;
    }));
    this.running.length = 0;
  }

  private async handle(m: JsMsg): Promise<void> {
    let env: Envelope;
    let actions: AlertAction[];
    try {
      const parsed = parseJson(m.data);
      if (!Value.Check(Envelope, parsed)) throw new Error('not an Omoi envelope');
      env = parsed as Envelope;
      actions = triggersOf(env);
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), subject: m.subject, seq: m.info.streamSequence }, 'alert triggers: ignored a malformed event');
      m.ack();
      return;
    }
    try {
      // One event's actions name distinct fingerprints: published together, acked once all are stored.
      await Promise.all(actions.map((a, i) => {
        const id = alertCommandId(env.id, i + 1);
        return a.op === 'raise'
          ? this.deps.publish('alert.raise', { kind: a.kind, fingerprint: a.fingerprint, title: a.title, fields: a.fields }, id)
          : this.deps.publish('alert.clear', { fingerprint: a.fingerprint, reason: a.reason }, id);
      }));
      m.ack();
    } catch (err) {
      if (err instanceof ProtocolError || m.info.deliveryCount >= ALERT_TRIGGER_MAX_DELIVER) {
        // A command the schema refuses (a fingerprint with control characters…) will never pass.
        this.deps.log.error({ err: errorMessage(err), type: env.type, id: env.id, deliveries: m.info.deliveryCount }, 'alert triggers: gave up on an event');
        m.term();
      } else {
        this.deps.log.warn({ err: errorMessage(err), type: env.type, id: env.id }, 'alert triggers: could not publish; retrying');
        m.nak(1_000);
      }
    }
  }
}
