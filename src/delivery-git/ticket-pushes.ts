import type { Breakers } from '../breakers/index.ts';
import { DeliveryDispatcher, type DispatcherTuning } from '../delivery/dispatcher.ts';
import type { DeliveryOutcome } from '../delivery/delivery-status.ts';
import { errorMessage } from '../errors.ts';
import type { PublishCommand } from '../executor/command-publisher.ts';
import type { CommitStore } from '../git/index.ts';
import type { Logger } from '../logging/logger.ts';
import type { Database } from '../persistence/index.ts';
import { pushChannel, reportPush } from './push-channel.ts';
import { PushStore, type DuePush } from './push-store.ts';

export interface TicketPushesDeps {
  db: Database; dataDir: string; commits: CommitStore; breakers: Breakers; publish: PublishCommand; log: Logger;
  /** Attempts of one push before it is `failed` (`OMOI_PUSH_MAX_ATTEMPTS`). */
  maxAttempts: number;
  /** First retry delay, ms, doubled per attempt up to ten minutes, with jitter (`OMOI_PUSH_RETRY_BASE_MS`). */
  retryBaseMs: number;
  /** Bound of one push, and of the pull request command after it, ms (`OMOI_PUSH_TIMEOUT_MS`); a push is held by its node three times this long. */
  timeoutMs: number;
  /** Counts each go at a push (`omoi_ticket_pushes_total{outcome}`). */
  count?: (outcome: DeliveryOutcome) => void;
  /** How often pushes whose end was not reported are looked for, ms. */
  sweepMs?: number;
  tuning?: DispatcherTuning;
}

/**
 * Pushes of completed tickets on this node: the shared dispatcher (src/delivery) delivers due
 * rows of `omoi_ticket_push` with retries and backoff, every node taking its share through the
 * database (a node that dies mid-push leaves the row due again after its hold: the push is
 * resumed elsewhere or after the restart). A sweep re-sends the report of pushes that ended
 * but whose ticket never heard of it, so no end is lost. `stop()` is safe twice.
 */
export class TicketPushes {
  private readonly dispatcher: DeliveryDispatcher<DuePush>;
  private readonly store: PushStore;
  private sweeper?: NodeJS.Timeout;
  private stopped?: Promise<void>;

  constructor(private readonly deps: TicketPushesDeps) {
    this.store = new PushStore(deps.db);
    const channel = pushChannel({ dataDir: deps.dataDir, commits: deps.commits, breakers: deps.breakers, store: this.store, publish: deps.publish, count: deps.count });
    this.dispatcher = new DeliveryDispatcher({
      queue: this.store.queue, channel, log: deps.log.child({ component: 'ticket-pushes' }), maxAttempts: deps.maxAttempts,
      timeoutMs: deps.timeoutMs, backoff: { baseMs: deps.retryBaseMs, maxMs: 600_000 }, ...deps.tuning,
    });
  }

  start(): void {
    this.dispatcher.start();
    const every = this.deps.sweepMs ?? 30_000;
    this.sweeper = setInterval(() => void this.reportLost(2 * every), every).unref();
  }

  /** A push was asked for (after its ticket's transaction committed): look now rather than at the next poll. */
  wake(): void {
    this.dispatcher.wake();
  }

  /** Re-sends the reports of pushes that ended more than `graceMs` ago and whose ticket still waits. */
  async reportLost(graceMs: number): Promise<number> {
    try {
      const lost = await this.store.unreported(graceMs);
      for (const row of lost) await reportPush(this.deps.publish, row);
      return lost.length;
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err) }, 'could not look for unreported ticket pushes');
      return 0;
    }
  }

  stop(): Promise<void> {
    return (this.stopped ??= (async () => {
      if (this.sweeper) clearInterval(this.sweeper);
      await this.dispatcher.stop();
    })());
  }
}
