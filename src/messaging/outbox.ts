import type { JetStreamClient } from '@nats-io/jetstream';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { OutboxEntity, type Database, type OutboxRow } from '../persistence/index.ts';

/**
 * Publishes outbox rows after their transaction committed, with `Nats-Msg-Id` = message id
 * (JetStream drops a duplicate within its window; receivers also skip processed ids).
 * Published rows are deleted in the next commit round (`GroupCommitter`), or by `flushPending`.
 * Rows whose publication failed stay until `OutboxSweeper` (continuously) or a partition
 * worker's start publishes them.
 */
export class OutboxPublisher {
  constructor(private readonly deps: { js: JetStreamClient; db: Database; log: Logger }) {}

  /** Publishes rows concurrently; returns false if any failed (they stay for `flushPending`). */
  async publish(rows: OutboxRow[]): Promise<boolean> {
    return (await this.publishEach(rows)).every(Boolean);
  }

  /**
   * Keeps one message an effect could not publish (a task or merge result) in the outbox of
   * its target partition, outside any transaction: from now on it is re-driven like any
   * committed effect. A row already there (same message id) is left as it is.
   */
  async keep(row: Omit<OutboxRow, 'id' | 'created_at'>): Promise<void> {
    await this.deps.db.em().createQueryBuilder(OutboxEntity).insert({ ...row, created_at: new Date() }).onConflict(['message_id']).ignore().execute();
  }

  /**
   * Republishes what partitions left in their outbox (crash, NATS outage), oldest first, at
   * most `limit` rows; those that landed are deleted. Returns how many rows it tried and how
   * many failed (then NATS is most likely down: the caller backs off).
   */
  async flushPending(partitions: number | number[], olderThanMs = 0, limit = 1000): Promise<{ tried: number; failed: number }> {
    const list = typeof partitions === 'number' ? [partitions] : partitions;
    if (!list.length) return { tried: 0, failed: 0 };
    const em = this.deps.db.em();
    const rows = await em.find(OutboxEntity, { partition: { $in: list }, created_at: { $lte: new Date(Date.now() - olderThanMs) } }, { orderBy: { id: 'asc' }, limit });
    if (!rows.length) return { tried: 0, failed: 0 };
    const landed = await this.publishEach(rows);
    const done = rows.filter((_, i) => landed[i]).map((r) => r.id!);
    if (done.length) await em.nativeDelete(OutboxEntity, { id: { $in: done } });
    return { tried: rows.length, failed: rows.length - done.length };
  }

  private async publishEach(rows: OutboxRow[]): Promise<boolean[]> {
    const results = await Promise.allSettled(rows.map((r) => this.deps.js.publish(r.subject, r.body, { msgID: r.message_id })));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length) this.deps.log.warn({ failed: failed.length, err: errorMessage(failed[0].reason) }, 'outbox publish failed; will retry');
    return results.map((r) => r.status === 'fulfilled');
  }
}
