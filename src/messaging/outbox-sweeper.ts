import { errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { OutboxPublisher } from './outbox.ts';

export interface OutboxSweeperOptions {
  /** Pause between sweeps while NATS takes what is published, ms (default 1000). */
  intervalMs?: number;
  /** Largest pause while publications fail (NATS down), ms; the pause doubles up to it (default 8000). */
  maxBackoffMs?: number;
  /** Rows younger than this are left to the commit that wrote them, which publishes them itself, ms (default 2000). */
  minAgeMs?: number;
  /** Rows per query; a sweep goes on while queries come back full and everything landed (default 500). */
  batch?: number;
}

/**
 * Re-drives committed effects: publishes the outbox rows of the partitions this node holds
 * that are still there after `minAgeMs` — a publication after commit that failed (NATS down
 * or restarting), a row a crashed node left, a result an effect kept (`OutboxPublisher.keep`).
 *
 * Invariants:
 * 1. Every row is published until JetStream acknowledges it, then deleted: a committed effect
 *    is never dropped, however long NATS is away.
 * 2. No duplicate effects: a row keeps its message id, which is its `Nats-Msg-Id` (JetStream
 *    drops a copy within its duplicate window) and the envelope id the receiving partition
 *    worker records in `omoi_processed_message` (a later copy is acked and ignored; the
 *    retention sweep keeps that id while the row is here, and `OMOI_RETENTION_PROCESSED_MS` after).
 * 3. Bounded: one query over the held partitions per round, at most `batch` rows, one sweep at
 *    a time (a sweep goes on with the next round only while rounds come back full and
 *    everything landed); while publications fail the pause doubles up to `maxBackoffMs`, and
 *    it is back to `intervalMs` after a sweep that published everything it tried.
 * 4. Oldest first, so effects of one partition are re-driven in their order of commit.
 */
export class OutboxSweeper {
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private pauseMs: number;
  private readonly o: Required<OutboxSweeperOptions>;

  constructor(private readonly deps: { outbox: OutboxPublisher; held: () => number[]; log: Logger }, options: OutboxSweeperOptions = {}) {
    this.o = { intervalMs: 1_000, maxBackoffMs: 8_000, minAgeMs: 2_000, batch: 500, ...options };
    this.pauseMs = this.o.intervalMs;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Stops sweeping; a sweep in flight finishes on its own. Safe to call twice. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** One sweep over the held partitions; returns how many rows were tried and how many failed. */
  async sweep(): Promise<{ tried: number; failed: number }> {
    const total = { tried: 0, failed: 0 };
    for (;;) {
      const r = await this.deps.outbox.flushPending(this.deps.held(), this.o.minAgeMs, this.o.batch);
      total.tried += r.tried;
      total.failed += r.failed;
      // A failure: NATS is most likely down, back off. A short round: nothing more is pending.
      if (r.failed || r.tried < this.o.batch || this.stopped) return total;
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.run(), this.pauseMs);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    let ok = true;
    try {
      const r = await this.sweep();
      ok = r.failed === 0;
      // Debug only: rows published right after their commit linger until the next commit round deletes them.
      if (r.tried && ok) this.deps.log.debug({ published: r.tried }, 'outbox sweep published pending rows');
    } catch (err) {
      ok = false; // the database is away: the same backoff
      this.deps.log.warn({ err: errorMessage(err) }, 'outbox sweep failed; will retry');
    }
    this.pauseMs = ok ? this.o.intervalMs : Math.min(this.pauseMs * 2, this.o.maxBackoffMs);
    this.schedule();
  }
}
