import type { JsMsg } from '@nats-io/jetstream';
import { errorMessage, FencedError } from '../errors.ts';
import { failpoint } from '../failpoints.ts';
import type { Logger } from '../logging/logger.ts';
import type { Database, EntityManager } from '../persistence/index.ts';
import type { Envelope } from '../protocol/index.ts';
import type { OutboxPublisher } from './outbox.ts';
import { UnitOfWork, type MessageScope } from './unit-of-work.ts';

/** Delivers one decoded command to its actor, inside the unit of work. */
export type Dispatch = (env: Envelope, scope: MessageScope) => Promise<void>;

/** Proof that this node holds a partition; checked and locked inside every transaction. */
export interface LeaseCheck {
  epoch(partition: number): number | undefined;
  assertHeld(em: EntityManager, partitions: Map<number, number>): Promise<void>;
}

export interface Item { msg: JsMsg; env: Envelope; received: number }
export interface Job { partition: number; items: Item[] }
/** Which items of a job were applied (the others were duplicates, already processed). */
export interface Committed { handled: Set<Item> }

interface Pending { job: Job; resolve: (c: Committed) => void; reject: (e: unknown) => void }

/**
 * Group commit for a node: the batches that partition workers hand in while a transaction is
 * running are committed together in the next one. One fsync and a fixed number of round
 * trips serve every partition's batch, instead of one transaction per partition.
 *
 * Invariants:
 * 1. A job's messages are applied in order, and a worker hands in its next job only after the
 *    previous one resolved, so per-partition order is kept.
 * 2. Every partition of a round has its lease locked and its epoch checked inside the
 *    transaction (fencing). A lost lease fails only that partition's job; the round is retried
 *    without it.
 * 3. If a round fails for another reason, each job is retried in a transaction of its own, so
 *    one bad message only ever fails its own partition's job (whose worker then isolates it).
 * 4. Outbox rows are published and after-commit effects run only after the commit.
 */
export class GroupCommitter {
  private queue: Pending[] = [];
  private running = false;
  private readonly publishedIds: string[] = [];

  constructor(
    private readonly deps: { db: Database; log: Logger; leases: LeaseCheck; dispatch: Dispatch; outbox: OutboxPublisher; partitions: number; nodeId: string },
  ) {}

  commit(job: Job): Promise<Committed> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      if (!this.running) void this.loop();
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length) {
        const round = this.queue.splice(0);
        await this.commitRound(round);
      }
    } finally {
      this.running = false;
    }
  }

  private async commitRound(round: Pending[]): Promise<void> {
    try {
      const results = await this.apply(round.map((p) => p.job));
      round.forEach((p, i) => p.resolve(results[i]));
    } catch (err) {
      if (round.length === 1) return round[0].reject(err);
      if (err instanceof FencedError) {
        const lost = round.filter((p) => p.job.partition === err.details.partition);
        for (const p of lost) p.reject(err);
        return this.commitRound(round.filter((p) => !lost.includes(p)));
      }
      for (const p of round) await this.commitRound([p]);
    }
  }

  private async apply(jobs: Job[]): Promise<Committed[]> {
    const { db, leases, dispatch, outbox, partitions, nodeId } = this.deps;
    const epochs = new Map<number, number>();
    for (const job of jobs) {
      const epoch = leases.epoch(job.partition);
      if (epoch === undefined) throw new FencedError(job.partition, -1);
      epochs.set(job.partition, epoch);
    }
    const uow = new UnitOfWork(db.em(), partitions, nodeId);
    const results: Committed[] = jobs.map(() => ({ handled: new Set<Item>() }));
    const deletable = this.publishedIds.splice(0);
    try {
      await db.em().transactional(async (em) => {
        uow.em = em as EntityManager;
        await leases.assertHeld(uow.em, epochs);
        if (deletable.length) await uow.em.getConnection().execute('delete from omoi_outbox where message_id in (?)', [deletable], 'run', uow.em.getTransactionContext());
        const ids = jobs.flatMap((j) => j.items.map((i) => i.env.id));
        const seen = new Set<string>(
          ids.length
            ? (await uow.em.getConnection().execute('select message_id from omoi_processed_message where message_id in (?)', [ids], 'all', uow.em.getTransactionContext()) as Array<{ message_id: string }>).map((r) => r.message_id)
            : [],
        );
        // Every message is put in its actor's mailbox in order, then all are awaited together:
        // an entity still sees its messages in order (its mailbox), and different entities
        // work at once instead of one event-loop turn after another.
        const deliveries: Promise<void>[] = [];
        for (const [j, job] of jobs.entries()) {
          for (const item of job.items) {
            if (seen.has(item.env.id)) continue;
            seen.add(item.env.id);
            deliveries.push(dispatch(item.env, uow.scope(item.env, job.partition)));
            uow.markProcessed(item.env.id, job.partition);
            results[j].handled.add(item);
          }
        }
        const settled = await Promise.allSettled(deliveries);
        const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
        await uow.finish();
      });
    } catch (err) {
      this.publishedIds.push(...deletable);
      uow.rollbackState();
      throw err;
    }
    for (const r of results) for (const item of r.handled) failpoint('after-commit', item.env.type);
    if (uow.outbox.length && (await outbox.publish(uow.outbox))) this.publishedIds.push(...uow.outbox.map((r) => r.message_id));
    await uow.runEffects((err) => this.deps.log.error({ err: errorMessage(err) }, 'after-commit effect failed'));
    return results;
  }
}
