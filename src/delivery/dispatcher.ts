import { CircuitOpenError } from '../breakers/breakers.ts';
import { errorMessage, OmoiError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.ts';
import { RouteRejectedError, RouteUnavailableError, type RouteReply } from './delivery-errors.ts';
import type { DeliveryQueue, QueuedDelivery, RecordedError } from './delivery-queue.ts';
import type { DeliveryOutcome } from './delivery-status.ts';

/** One attempt's means: its bound and the node's stop signal. */
export interface AttemptContext { timeoutMs: number; signal: AbortSignal }

/**
 * What a dispatcher delivers: alert notifications to routes, events to webhook subscribers.
 * `send` makes one attempt (behind the receiver's breaker) and throws `RouteUnavailableError`
 * (retry), `RouteRejectedError` (give up; with `attempted: false` when no call was made, e.g.
 * the route or subscription is gone) or `CircuitOpenError` (deferred).
 */
export interface DeliveryChannel<D extends QueuedDelivery> {
  /** Names the kind in logs: `alert`, `webhook`. */
  noun: string;
  send(d: D, ctx: AttemptContext): Promise<RouteReply>;
  /** Fields that identify the delivery in logs (never a URL or secret). */
  logFields(d: D): Record<string, unknown>;
  /** Counts each go at a delivery (a metric; labels from a fixed set). */
  count?(d: D, outcome: DeliveryOutcome): void;
  /**
   * Told once the delivery's end (delivered, or failed for good) is recorded, e.g. to tell its
   * owner. A failure here is logged, not retried: an owner that must hear of every end also
   * looks for ends it missed (a node may die between the record and this call).
   */
  settled?(d: D, outcome: 'delivered' | 'failed'): Promise<void>;
}

export interface DispatcherOptions<D extends QueuedDelivery = QueuedDelivery> {
  queue: DeliveryQueue<D>;
  channel: DeliveryChannel<D>;
  log: Logger;
  /** Attempts before a delivery fails for good. */
  maxAttempts: number;
  /** One attempt's bound, ms (default 10000). */
  timeoutMs?: number;
  /** How often due deliveries are looked for when nothing wakes the dispatcher, ms (default 1000). */
  pollMs?: number;
  /** Attempts in flight at once (default 16); a slot is refilled as soon as its attempt ends. */
  batch?: number;
  backoff?: BackoffOptions;
  /** How long a delivery whose breaker is open waits before it is looked at again, ms (default 5000). */
  circuitRetryMs?: number;
  random?: () => number;
}

/** The dispatcher timings tests shorten. */
export type DispatcherTuning = Pick<DispatcherOptions, 'timeoutMs' | 'pollMs' | 'batch' | 'backoff' | 'circuitRetryMs' | 'random'>;

/**
 * Delivers due deliveries of one table; one runs on every node per table, and they share the
 * work through the database. Invariants:
 * 1. A delivery is taken by one dispatcher at a time (`claimDue`: `for update skip locked`,
 *    then held for three timeouts and a margin); a node that dies holding one leaves it due
 *    again after the hold (delivery is at least once; `Omoi-Delivery` lets receivers drop repeats).
 * 2. Every attempt is bounded by `timeoutMs` and runs behind its receiver's breaker. An open
 *    breaker defers the delivery by `circuitRetryMs` with `circuit_open`, not counted as an attempt.
 * 3. A refusal (`RouteRejectedError`) fails the delivery at once; any other failure retries it
 *    with backoff until `maxAttempts` attempts were made, then fails it.
 * 4. Up to `batch` attempts are in flight at once, each bounded by `timeoutMs`; a slot is
 *    refilled as soon as its attempt ends, so a slow receiver holds only the slots of its own
 *    attempts (until its breaker opens), never the others'. Nothing here runs in an actor or a
 *    partition transaction; errors (database down) are logged and the loop goes on.
 * 5. `stop()` aborts attempts in flight, waits for them, and records nothing for them (their
 *    hold expires and they are tried again).
 */
export class DeliveryDispatcher<D extends QueuedDelivery = QueuedDelivery> {
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;
  private wakeUp?: () => void;
  private woken = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly timeoutMs: number;

  constructor(private readonly opts: DispatcherOptions<D>) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  start(): void {
    this.loop ??= this.run().catch((err) => this.opts.log.error({ err: errorMessage(err) }, `${this.opts.channel.noun} delivery dispatcher ended`));
  }

  /** Looks for due deliveries now (new rows were recorded). */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    this.wakeUp?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const holdMs = 3 * this.timeoutMs + 5_000;
    const slots = this.opts.batch ?? 16;
    while (!this.stopping.signal.aborted) {
      this.woken = false;
      const room = slots - this.inFlight.size;
      if (room > 0) {
        let due: D[] = [];
        try {
          due = await this.opts.queue.claimDue(room, holdMs);
        } catch (err) {
          this.opts.log.warn({ err: errorMessage(err) }, `could not take due ${this.opts.channel.noun} deliveries`);
        }
        for (const d of due) {
          const attempt: Promise<void> = this.deliver(d).finally(() => {
            this.inFlight.delete(attempt);
            this.wake(); // a slot is free
          });
          this.inFlight.add(attempt);
        }
        if (due.length > 0) continue;
      }
      if (!this.woken) await this.idle(this.opts.pollMs ?? 1_000);
    }
    await Promise.all(this.inFlight);
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  private async deliver(d: D): Promise<void> {
    const { channel } = this.opts;
    const log = this.opts.log.child({ delivery: d.id, ...channel.logFields(d) });
    try {
      const outcome = await this.attempt(d);
      channel.count?.(d, outcome.outcome);
      if (outcome.outcome === 'delivered') log.info({ attempts: d.attempts + 1 }, `${channel.noun} delivered`);
      else if (outcome.outcome !== 'deferred') log.warn({ code: outcome.error?.code, err: outcome.error?.message, attempts: d.attempts + 1 }, outcome.outcome === 'failed' ? `${channel.noun} delivery failed for good` : `${channel.noun} delivery failed: retrying`);
    } catch (err) {
      // A write failed (database down): the hold expires and the delivery is due again.
      if (!this.stopping.signal.aborted) log.warn({ err: errorMessage(err) }, `could not record a ${channel.noun} delivery's outcome`);
    }
  }

  private async settled(d: D, outcome: 'delivered' | 'failed'): Promise<void> {
    await this.opts.channel.settled?.(d, outcome).catch((err) =>
      this.opts.log.warn({ delivery: d.id, ...this.opts.channel.logFields(d), err: errorMessage(err) }, `could not tell the end of a ${this.opts.channel.noun} delivery`));
  }

  private async attempt(d: D): Promise<{ outcome: DeliveryOutcome; error?: RecordedError }> {
    const queue = this.opts.queue;
    try {
      const reply = await this.opts.channel.send(d, { timeoutMs: this.timeoutMs, signal: this.stopping.signal });
      if (await queue.delivered(d, reply)) await this.settled(d, 'delivered');
      return { outcome: 'delivered' };
    } catch (err) {
      if (this.stopping.signal.aborted) throw err;
      const error: RecordedError = {
        code: err instanceof OmoiError ? err.code : 'route_unavailable',
        message: errorMessage(err),
        reply: err instanceof RouteUnavailableError || err instanceof RouteRejectedError ? err.reply : undefined,
      };
      if (err instanceof CircuitOpenError) {
        await queue.deferred(d, error, this.opts.circuitRetryMs ?? 5_000);
        return { outcome: 'deferred', error };
      }
      const attempts = d.attempts + 1;
      if (err instanceof RouteRejectedError || attempts >= this.opts.maxAttempts) {
        if (await queue.failed(d, error, !(err instanceof RouteRejectedError) || err.attempted)) await this.settled(d, 'failed');
        return { outcome: 'failed', error };
      }
      await queue.retryLater(d, error, backoffDelay(attempts, this.opts.backoff ?? DEFAULT_BACKOFF, this.opts.random));
      return { outcome: 'retry', error };
    }
  }
}
