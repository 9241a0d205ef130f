import type { JetStreamClient } from '@nats-io/jetstream';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { OutboxEntity, type Database, type OutboxRow } from '../persistence/index.ts';

/**
 * Publishes outbox rows after their transaction committed, with `Nats-Msg-Id` = message id
 * (JetStream drops a duplicate within its window; receivers also skip processed ids).
 * Published rows are deleted in the next commit round (`GroupCommitter`), or by `flushPending`.
 */
export class OutboxPublisher {
  constructor(private readonly deps: { js: JetStreamClient; db: Database; log: Logger }) {}

  /** Publishes rows concurrently; returns false if any failed (they stay for `flushPending`). */
  async publish(rows: OutboxRow[]): Promise<boolean> {
    const results = await Promise.allSettled(rows.map((r) => this.deps.js.publish(r.subject, r.body, { msgID: r.message_id })));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) {
      this.deps.log.warn({ failed: failed.length, err: errorMessage((failed[0] as PromiseRejectedResult).reason) }, 'outbox publish failed; will retry');
      return false;
    }
    return true;
  }

  /** Republish whatever a partition left in its outbox (crash, NATS outage), oldest first. */
  async flushPending(partition: number, olderThanMs = 0): Promise<number> {
    const em = this.deps.db.em();
    const rows = await em.find(OutboxEntity, { partition, created_at: { $lte: new Date(Date.now() - olderThanMs) } }, { orderBy: { id: 'asc' }, limit: 1000 });
    if (!rows.length) return 0;
    const ok = await this.publish(rows);
    if (ok) await em.nativeDelete(OutboxEntity, { id: { $in: rows.map((r) => r.id!) } });
    return rows.length;
  }
}
