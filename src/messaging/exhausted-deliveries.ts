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
 * NATS (at most once): one lost while no node listened is not repeated, so `reconcile` also
 * looks for such messages now and then, on the consumers whose partitions this node holds.
 */
/** What `start` reconciles: every `intervalMs`, the consumers `consumers()` names (one node each). */
export interface ReconcileOptions {
  intervalMs: number;
  /** A consumer that delivered within this long is left to the announcement, ms (more than its ack wait). */
  graceMs: number;
  consumers: () => Array<{ stream: string; consumer: string }>;
}

export class ExhaustedDeliveries {
  private sub?: Subscription;
  private timer?: NodeJS.Timeout;

  constructor(private readonly deps: { nc: NatsConnection; jsm: JetStreamManager; rejections: Rejections; log: Logger }) {}

  start(reconcile?: ReconcileOptions): void {
    if (reconcile) {
      this.timer = setInterval(() => void this.reconcile(reconcile.consumers(), reconcile.graceMs), reconcile.intervalMs);
      this.timer.unref();
    }
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
    if (this.timer) clearInterval(this.timer);
    this.sub?.unsubscribe();
  }

  /**
   * Dead-letters the messages of these consumers whose deliveries ran out unannounced: JetStream
   * keeps such a message in the work queue for good (a later ack may even move the consumer's
   * ack floor past it). They can be told apart only when the consumer awaits no ack at all:
   * then every message of its filter still stored up to its last delivered sequence was given up on. A consumer
   * that delivered within `graceMs` is skipped (its announcement may be on its way). At most
   * `limit` messages per call; returns how many were dead-lettered. Never throws.
   */
  async reconcile(consumers: Array<{ stream: string; consumer: string }>, graceMs: number, limit = 100): Promise<number> {
    const { jsm, log } = this.deps;
    let done = 0;
    for (const { stream, consumer } of consumers) {
      try {
        const info = await jsm.consumers.info(stream, consumer);
        if (info.num_ack_pending > 0 || Date.now() - lastActive(info.delivered.last_active) < graceMs) continue;
        const filter = info.config.filter_subject || '>';
        for (let seq = 1; seq <= info.delivered.stream_seq && done < limit;) {
          // `next_by_subj` (nats-server 2.9+): the first message of the filter at or after `seq`.
          const m = await jsm.streams.getMessage(stream, { seq, next_by_subj: filter } as never);
          if (!m || m.seq > info.delivered.stream_seq) break;
          log.warn({ stream, consumer, seq: m.seq }, 'found a message whose deliveries ran out unannounced; dead-lettering it');
          await this.deadLetter({ stream, consumer, stream_seq: m.seq, deliveries: info.config.max_deliver ?? 0 });
          done++;
          seq = m.seq + 1;
        }
      } catch (err) {
        log.warn({ stream, consumer, err: errorMessage(err) }, 'could not look for messages whose deliveries ran out');
      }
    }
    return done;
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

/** When a consumer last delivered: the server sends an ISO time (typed as nanoseconds); unreadable → now (skipped). */
function lastActive(raw: unknown): number {
  const at = typeof raw === 'string' ? Date.parse(raw) : NaN;
  return Number.isFinite(at) ? at : Date.now();
}
