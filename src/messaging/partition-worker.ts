import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { errorMessage, FencedError, OmoiError, RetryableError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { messageTypeLabel, type Metrics } from '../metrics.ts';
import { decodeEnvelope, Streams, type Envelope } from '../protocol/index.ts';
import type { GroupCommitter, Item } from './group-commit.ts';
import type { OutboxPublisher } from './outbox.ts';
import { describe, isTerminalInput, type Rejections } from './rejections.ts';
import { isDatabaseOutage } from '../persistence/outage.ts';
import { partitionConsumer, pullOptions } from './streams.ts';
import { setTimeout as sleep } from 'node:timers/promises';

export type { Dispatch, LeaseCheck } from './group-commit.ts';

/**
 * Pulls partition n's durable consumer and applies its messages a batch at a time, through
 * the node's `GroupCommitter` (one transaction serves the batches of many partitions).
 *
 * Invariants:
 * 1. Durable before ack: a message is acked only after the transaction holding its effects
 *    (and its id in `omoi_processed_message`) committed and its outbox was published (or, that
 *    failing, left to the `OutboxSweeper`).
 * 2. A message id already processed is acked and ignored (redelivery after a crash).
 * 3. A batch that fails is retried message by message, so one bad message cannot hold back
 *    the others; bad input is dead-lettered and terminated, transient failures nak'ed with
 *    backoff until `maxDeliver`, then dead-lettered. The consumer never stalls. A failure
 *    because a circuit breaker is open (`circuit_open`: a dead git remote) is not counted
 *    against the message: it is handed back as in 6, however often, and waits for its dependency.
 * 4. Every commit checks the lease epoch (fencing): a node that lost the partition cannot
 *    commit; it stops pulling.
 * 5. A message's `prepare` step (a clone or fetch) runs before its batch is handed to the
 *    group commit, outside any transaction: a slow one holds back this partition only, never
 *    the other partitions sharing the node's transaction. A message whose prepare step fails
 *    is failed as in 3 (dead-lettered or redelivered) and leaves its batch.
 * 6. A message handed back without a failure (drain, fencing) is nak'ed, which still counts a
 *    delivery; on its last delivery (the consumer's `max_deliver` is `maxDeliver + 1`) a nak
 *    would leave it in the stream, never delivered again. It was not its fault (leases that
 *    move often on a loaded cluster), so it goes back into the stream as a new message with a
 *    fresh budget (`Nats-Msg-Id` `<id>:handed-back:<stream seq>`; its envelope id is the same,
 *    so it is still applied at most once) and the old one is terminated; only if that publish
 *    fails is it dead-lettered (`max_deliver_exceeded`), so no message is ever silently left
 *    behind. The nak is delayed (`HAND_BACK_DELAY_MS`): an immediate one would come straight
 *    back to this worker's subscription while it closes, spending every delivery in moments.
 * 7. A batch that fails while the database is unreachable (a restart of PostgreSQL) is not the
 *    messages' fault: it is kept in progress (`working()`: no delivery is spent) and tried again
 *    once the database answers (`databaseUp`), however long that takes, until the worker stops.
 * 8. Every message this worker holds (queued behind a batch, or in one) is kept in progress
 *    (`working()` three times per ack wait): a slow batch on a loaded node is not taken for a
 *    lost one, redelivered and counted against the message's deliveries.
 */
/** Delay of a message handed back because a breaker it needs is open (it is refused at once: cheap), ms. */
const CIRCUIT_OPEN_DELAY_MS = 2_000;
/** Delay of a nak that hands a message back without a failure (invariant 6), ms. */
const HAND_BACK_DELAY_MS = 2_000;

export class PartitionWorker {
  private messages?: ConsumerMessages;
  private queue: JsMsg[] = [];
  private running?: Promise<void>;
  private stopped = false;
  private readonly idle: Array<() => void> = [];
  /** The batch being processed (invariant 8). */
  private current: JsMsg[] = [];
  private inProgress?: NodeJS.Timeout;

  constructor(
    readonly partition: number,
    private readonly deps: {
      js: JetStreamClient; log: Logger; metrics: Metrics; committer: GroupCommitter; outbox: OutboxPublisher;
      rejections: Rejections; fetchBatch: number; maxDeliver: number;
      onFenced: (partition: number) => void;
      /** Slow work a message needs before its transaction (invariant 5); none when absent. */
      prepare?: (env: Envelope) => Promise<void>;
      /** The consumer's ack wait, ms: held messages are marked in progress three times per period (invariant 8). */
      ackWaitMs?: number;
      /** Whether the database answers now (invariant 7); absent: every failure is the message's. */
      databaseUp?: () => Promise<boolean>;
    },
  ) {}

  async start(): Promise<void> {
    await this.deps.outbox.flushPending(this.partition);
    const consumer = await this.deps.js.consumers.get(Streams.partitions, partitionConsumer(this.partition));
    this.messages = await consumer.consume(pullOptions(this.deps.fetchBatch * 2));
    this.inProgress = setInterval(() => {
      for (const m of this.current) m.working();
      for (const m of this.queue) m.working();
    }, Math.max(100, Math.floor((this.deps.ackWaitMs ?? 30_000) / 3))).unref();
    void (async () => {
      for await (const m of this.messages!) {
        if (this.stopped) { await this.handBack(m, 'its node was draining'); continue; }
        this.queue.push(m);
        this.kick();
      }
    })().catch((err) => this.deps.log.error({ partition: this.partition, err: errorMessage(err) }, 'partition consumer ended'));
  }

  /** Stop pulling, finish the batch in hand (bounded by the caller), hand back the rest. */
  async drain(): Promise<void> {
    this.stopped = true;
    await this.messages?.close().catch(() => undefined);
    await this.running;
    clearInterval(this.inProgress);
    for (const m of this.queue.splice(0)) await this.handBack(m, 'its node was draining');
  }

  /** Resolves when nothing is queued or being processed (tests, benchmarks). */
  whenIdle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  private kick(): void {
    if (this.running) return;
    this.running = (async () => {
      while (this.queue.length && !this.stopped) {
        const batch = this.queue.splice(0, this.deps.fetchBatch);
        this.current = batch;
        await this.processBatch(batch).catch((err) => this.deps.log.error({ partition: this.partition, err: errorMessage(err) }, 'batch failed'));
      }
    })().finally(() => {
      this.current = [];
      this.running = undefined;
      if (this.queue.length && !this.stopped) this.kick();
      else for (const r of this.idle.splice(0)) r();
    });
  }

  private async processBatch(batch: JsMsg[]): Promise<void> {
    let items: Item[] = [];
    for (const msg of batch) {
      const type = msg.subject.split('.').slice(3).join('.');
      if (msg.info.deliveryCount > 1) this.deps.metrics.redeliveries.inc({ type: messageTypeLabel(type) });
      try {
        items.push({ msg, env: decodeEnvelope(msg.data), received: performance.now() });
      } catch (err) {
        await this.fail(msg, type, err);
      }
    }
    if (this.deps.prepare) {
      const prepare = this.deps.prepare;
      // A clone may take longer than the ack wait: the messages are kept in progress (invariant 8).
      // (A clone cannot hang for good: git commands are killed after a time, see runGitCli.)
      const prepared = await Promise.allSettled(items.map((item) => prepare(item.env)));
      for (const [i, r] of prepared.entries()) {
        if (r.status === 'rejected') await this.fail(items[i].msg, items[i].env.type, r.reason, items[i].env);
      }
      items = items.filter((_, i) => prepared[i].status === 'fulfilled');
    }
    if (!items.length) return;
    try {
      await this.commitThroughOutages(items);
    } catch (err) {
      if (err instanceof FencedError) return this.fenced(items, err);
      if (items.length === 1) return this.fail(items[0].msg, items[0].env.type, err, items[0].env);
      // Isolate the culprit: every message again in its own transaction.
      for (const item of items) {
        try {
          await this.commit([item]);
        } catch (e) {
          if (e instanceof FencedError) return this.fenced(items, e);
          await this.fail(item.msg, item.env.type, e, item.env);
        }
      }
    }
  }

  /** `commit`, tried again (invariant 7) for as long as a failure finds the database unreachable. */
  private async commitThroughOutages(items: Item[]): Promise<void> {
    for (let wait = 250; ; wait = Math.min(wait * 2, 5_000)) {
      try {
        return await this.commit(items);
      } catch (err) {
        if (err instanceof FencedError || this.stopped || !this.deps.databaseUp) throw err;
        if (!isDatabaseOutage(err) && (await this.deps.databaseUp())) throw err;
        this.deps.log.warn({ partition: this.partition, err: errorMessage(err), retryInMs: wait }, 'database unreachable; the batch waits for it');
        await sleep(wait); // kept in progress meanwhile (invariant 8)
        while (!this.stopped && !(await this.deps.databaseUp())) await sleep(wait);
      }
    }
  }

  private async commit(items: Item[]): Promise<void> {
    const { handled } = await this.deps.committer.commit({ partition: this.partition, items });
    const now = performance.now();
    for (const item of items) {
      item.msg.ack();
      this.deps.metrics.handled.inc({ type: messageTypeLabel(item.env.type), outcome: handled.has(item) ? 'ok' : 'duplicate' });
      this.deps.metrics.latency.observe({ type: messageTypeLabel(item.env.type) }, (now - item.received) / 1000);
    }
  }

  private async fail(msg: JsMsg, type: string, err: unknown, env?: Envelope): Promise<void> {
    const { rejections, maxDeliver, metrics, log } = this.deps;
    const deliveries = msg.info.deliveryCount;
    if (err instanceof OmoiError && err.code === 'circuit_open') {
      // A dependency's breaker is open (a dead git remote): the message waits for it, retried
      // without hammering (the breaker refuses at once) and never dead-lettered for it.
      log.info({ partition: this.partition, type, deliveries, err: errorMessage(err) }, 'a circuit breaker is open; the message waits');
      metrics.handled.inc({ type, outcome: 'retry' });
      return this.handBack(msg, 'a circuit breaker was open', env, CIRCUIT_OPEN_DELAY_MS);
    }
    const terminal = isTerminalInput(err);
    if (!terminal && deliveries < maxDeliver) {
      const delay = Math.min(250 * 2 ** (deliveries - 1), 30_000);
      log.warn({ partition: this.partition, type, deliveries, delayMs: delay, err: errorMessage(err) }, 'handler failed; will redeliver');
      metrics.handled.inc({ type: messageTypeLabel(type), outcome: 'retry' });
      msg.nak(delay);
      return;
    }
    const problem = terminal ? describe(err) : { code: 'max_deliver_exceeded', reason: `failed ${deliveries} deliveries; last error: ${describe(err).reason}` };
    try {
      await rejections.reject({ subject: msg.subject, data: msg.data, messageId: env?.id, type: env?.type ?? type, deliveries }, problem);
      metrics.handled.inc({ type: messageTypeLabel(type), outcome: 'rejected' });
      msg.term(); // no reason: nats-server 2.9 ignores "+TERM <reason>"
    } catch (e) {
      log.error({ partition: this.partition, err: errorMessage(e) }, 'could not dead-letter; will redeliver');
      msg.nak(1_000);
    }
  }

  private fenced(items: Item[], err: RetryableError): void {
    if (this.stopped) return void items.forEach((item) => void this.handBack(item.msg, 'its partition was fenced off this node', item.env));
    this.stopped = true; // nothing more is taken on: what arrives is handed back at once
    this.deps.log.warn({ partition: this.partition, err: err.message }, 'lease lost; stopping partition');
    for (const item of items) void this.handBack(item.msg, 'its partition was fenced off this node', item.env);
    this.deps.onFenced(this.partition);
  }

  /**
   * Gives a message back for another delivery (invariant 6): a nak, or, when this was its last
   * delivery, a dead letter (then it is terminated; if even that fails, nak'ed as a last resort).
   */
  private async handBack(msg: JsMsg, why: string, env?: Envelope, delayMs = HAND_BACK_DELAY_MS): Promise<void> {
    const deliveries = msg.info.deliveryCount;
    if (deliveries <= this.deps.maxDeliver) return msg.nak(delayMs);
    const type = env?.type ?? msg.subject.split('.').slice(3).join('.');
    const id = env?.id ?? (msg.headers?.get('Nats-Msg-Id') || `seq-${msg.info.streamSequence}`);
    try {
      await this.deps.js.publish(msg.subject, msg.data, { msgID: `${id}:handed-back:${msg.info.streamSequence}` });
      this.deps.log.info({ partition: this.partition, type, deliveries, why }, 'message handed back on its last delivery; re-queued with a fresh budget');
      msg.term();
      return;
    } catch (err) {
      this.deps.log.warn({ partition: this.partition, type, err: errorMessage(err) }, 'could not re-queue a handed-back message; dead-lettering it');
    }
    try {
      await this.deps.rejections.reject(
        { subject: msg.subject, data: msg.data, messageId: env?.id ?? (msg.headers?.get('Nats-Msg-Id') || undefined), type, deliveries },
        { code: 'max_deliver_exceeded', reason: `delivered ${deliveries} times; handed back on its last delivery (${why}), not failed: retry it` },
      );
      this.deps.metrics.handled.inc({ type: messageTypeLabel(type), outcome: 'rejected' });
      msg.term();
    } catch (err) {
      this.deps.log.error({ partition: this.partition, err: errorMessage(err) }, 'could not dead-letter a handed-back message');
      msg.nak(HAND_BACK_DELAY_MS);
    }
  }
}
