import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { Streams } from '../protocol/index.ts';
import type { Rejections } from './rejections.ts';

/** What JetStream announces when a consumer gave up on a message (`io.nats.jetstream.advisory.v1.max_deliver`). */
interface MaxDeliveriesAdvisory { stream: string; consumer: string; stream_seq: number; deliveries: number }

const QUEUE = 'omoi-exhausted-deliveries';

/**
 * Dead-letters the messages JetStream stopped delivering without anyone deciding so: the last
 * allowed delivery was never acknowledged (its node died or hung holding it, or a nak on the
 * last delivery slipped past `PartitionWorker`'s hand-back). JetStream then leaves the message
 * in the work queue, undelivered for good, and announces it on
 * `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<stream>.<consumer>`.
 *
 * Every node subscribes in one queue group, so one node handles each announcement: it reads
 * the message by its stream sequence, dead-letters it (`max_deliver_exceeded`, with the
 * original bytes: `omoi dlq retry` puts it back) and deletes it from the stream. A message
 * already gone (terminated or dead-lettered by its worker) is skipped. Announcements are core
 * NATS (at most once): one lost while no node listened is not repeated.
 */
export class ExhaustedDeliveries {
  private sub?: Subscription;

  constructor(private readonly deps: { nc: NatsConnection; jsm: JetStreamManager; rejections: Rejections; log: Logger }) {}

  start(): void {
    const streams: string[] = [Streams.partitions, Streams.ingress];
    this.sub = this.deps.nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.*.*', {
      queue: QUEUE,
      callback: (err, msg) => {
        if (err) return;
        let advisory: MaxDeliveriesAdvisory;
        try {
          advisory = msg.json<MaxDeliveriesAdvisory>();
        } catch {
          return;
        }
        if (streams.includes(advisory.stream)) void this.deadLetter(advisory);
      },
    });
  }

  stop(): void {
    this.sub?.unsubscribe();
  }

  private async deadLetter(a: MaxDeliveriesAdvisory): Promise<void> {
    const { jsm, rejections, log } = this.deps;
    try {
      const stored = await jsm.streams.getMessage(a.stream, { seq: a.stream_seq }).catch(() => null);
      if (!stored) return; // already terminated or dead-lettered
      const parts = stored.subject.split('.');
      const type = (a.stream === Streams.partitions ? parts.slice(3) : parts.slice(2)).join('.');
      await rejections.reject(
        { subject: stored.subject, data: stored.data, messageId: stored.header?.get('Nats-Msg-Id') || undefined, type, deliveries: a.deliveries },
        { code: 'max_deliver_exceeded', reason: `delivered ${a.deliveries} times to consumer ${a.consumer}; the last delivery was never acknowledged` },
      );
      await jsm.streams.deleteMessage(a.stream, a.stream_seq, false);
    } catch (err) {
      log.error({ stream: a.stream, seq: a.stream_seq, err: errorMessage(err) }, 'could not dead-letter a message whose deliveries ran out');
    }
  }
}
