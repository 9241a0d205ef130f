import { errorMessage, FencedError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { Database, EntityManager } from '../persistence/index.ts';
import { intArray, recordEnded, recordTaken, type Holding, type Sql } from './lease-history.ts';

/**
 * Partition leases in PostgreSQL (`omoi_partition_lease`), with fencing.
 *
 * Invariants:
 * 1. A lease changes holder only by compare-and-set on its epoch, and every change of holder
 *    increments the epoch.
 * 2. A lease is held while `expires_at` is in the future; the holder renews all its leases
 *    every heartbeat (expiry = 3 heartbeats), so a dead node's partitions free up by themselves.
 * 3. Every partition transaction locks its lease row and checks holder and epoch
 *    (`assertHeld`): a node that lost a lease cannot commit a stale write.
 * 4. Fair share: a node aims at ceil(partitions / live nodes) partitions, takes free or expired
 *    ones, and gives back its surplus, so partitions spread as nodes come and go.
 * 5. Every change of holder is recorded in `omoi_lease_history`, in the same transaction
 *    (`lease-history.ts`).
 * 6. Ticks are single-flight: a tick still running (a slow database, a slow `onAcquired`) when
 *    the next is due is not started again, and `release()` waits for it.
 */
export class LeaseManager {
  private readonly held = new Map<number, number>();
  private timer?: NodeJS.Timeout;
  /** The tick in progress, if any. */
  private ticking?: Promise<void>;

  constructor(
    private readonly deps: {
      db: Database; log: Logger; nodeId: string; partitions: number; heartbeatMs: number;
      /** This node's HTTP URL for `omoi_node.http_url`; known only once HTTP listens, after the first heartbeats. */
      httpUrl?: () => string | undefined;
      onAcquired: (partition: number, epoch: number) => Promise<void>;
      onLost: (partition: number) => Promise<void>;
      /** This node took over `partitions` whose leases `node` let expire (it stopped heartbeating without releasing them). */
      onNodeLost?: (node: string, partitions: number[]) => void;
      /** After a tick that changed the partitions this node holds (took, gave back or lost some): what it holds now. */
      onHeldChanged?: (owned: number[]) => void;
    },
  ) {}

  epoch(partition: number): number | undefined {
    return this.held.get(partition);
  }

  owned(): number[] {
    return [...this.held.keys()].sort((a, b) => a - b);
  }

  /** Locks the leases of `epochs` (partition → epoch) for this transaction; throws `FencedError` for the first not held. */
  async assertHeld(em: EntityManager, epochs: Map<number, number>): Promise<void> {
    const parts = [...epochs.keys()];
    const rows: Array<{ partition: number; epoch: number; node_id: string | null }> = await em.getConnection().execute(
      'select partition, epoch, node_id from omoi_partition_lease where partition in (?) for share',
      [parts],
      'all',
      em.getTransactionContext(),
    );
    const current = new Map(rows.map((r) => [r.partition, r]));
    for (const [partition, epoch] of epochs) {
      const row = current.get(partition);
      if (!row || row.node_id !== this.deps.nodeId || row.epoch !== epoch) {
        this.held.delete(partition);
        throw new FencedError(partition, epoch);
      }
    }
  }

  async start(): Promise<void> {
    const conn = this.deps.db.em().getConnection();
    await conn.execute(
      `insert into omoi_partition_lease (partition, node_id, epoch, expires_at)
       select g, null, 0, now() from generate_series(0, ?::int - 1) g on conflict do nothing`,
      [this.deps.partitions],
    );
    // A previous process with our node id (crashed, restarted) held these: free them at once.
    await this.freeAll();
    await this.tick();
    this.timer = setInterval(() => {
      // Still running: skip this beat rather than join it (its failure is logged once).
      if (this.ticking) return;
      void this.tick().catch((err) => this.deps.log.error({ err: errorMessage(err) }, 'lease tick failed'));
    }, this.deps.heartbeatMs);
    this.timer.unref();
  }

  /**
   * One heartbeat: announce the node, renew, then take or give partitions toward fair share.
   * Single-flight: called while a tick is running, it returns that tick's promise.
   */
  tick(): Promise<void> {
    this.ticking ??= this.heartbeatReportingChanges().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async heartbeatReportingChanges(): Promise<void> {
    const before = this.owned().join();
    try {
      await this.heartbeat();
    } finally {
      if (this.owned().join() !== before) this.deps.onHeldChanged?.(this.owned());
    }
  }

  private async heartbeat(): Promise<void> {
    const { db, nodeId, partitions, heartbeatMs } = this.deps;
    const conn = db.em().getConnection();
    const ttl = `${heartbeatMs * 3} milliseconds`;
    await conn.execute(
      `insert into omoi_node (id, started_at, heartbeat_at, http_url, status) values (?, now(), now(), ?, 'up')
       on conflict (id) do update set heartbeat_at = now(), status = 'up', http_url = excluded.http_url`,
      [nodeId, this.deps.httpUrl?.() ?? null],
    );
    // Renew by epoch, not by "not yet expired": a renewal delayed by load still succeeds unless
    // another node has taken the partition meanwhile (its epoch would differ).
    const held = this.owned();
    const renewed: Array<{ partition: number }> = held.length
      ? await conn.execute(
          `update omoi_partition_lease l set expires_at = now() + ?::interval
           from unnest(?::int[], ?::int[]) as h(partition, epoch)
           where l.partition = h.partition and l.epoch = h.epoch and l.node_id = ? returning l.partition`,
          [ttl, intArray(held), intArray(held.map((p) => this.held.get(p)!)), nodeId],
        )
      : [];
    const still = new Set(renewed.map((r) => r.partition));
    for (const p of [...this.held.keys()]) if (!still.has(p)) await this.lose(p);

    const [{ live }] = await conn.execute(`select count(*)::int as live from omoi_node where status = 'up' and heartbeat_at > now() - ?::interval`, [ttl]);
    const share = Math.ceil(partitions / Math.max(1, live));
    if (this.held.size > share) {
      for (const p of this.owned().slice(share)) {
        await this.transaction(async (sql) => {
          const given = await sql('update omoi_partition_lease set node_id = null, expires_at = now() where partition = ? and node_id = ? and epoch = ? returning partition, epoch', [p, nodeId, this.held.get(p)]);
          await recordEnded(sql, given as Holding[]);
        });
        await this.lose(p);
      }
      return;
    }
    const want = share - this.held.size;
    if (want <= 0) return;
    const taken = await this.transaction(async (sql) => {
      const rows = await sql(
        `update omoi_partition_lease l set node_id = ?, epoch = l.epoch + 1, expires_at = now() + ?::interval
         from (select partition, epoch, node_id as previous from omoi_partition_lease where expires_at <= now() or node_id is null
               order by partition limit ? for update skip locked) f
         where l.partition = f.partition and l.epoch = f.epoch
         returning l.partition, l.epoch, f.previous`,
        [nodeId, ttl, want],
      ) as Array<Holding & { previous: string | null }>;
      await recordTaken(sql, nodeId, rows);
      return rows;
    });
    for (const t of taken) {
      this.held.set(t.partition, t.epoch);
      try {
        await this.deps.onAcquired(t.partition, t.epoch);
      } catch (err) {
        this.deps.log.error({ partition: t.partition, err: errorMessage(err) }, 'could not start partition');
      }
    }
    if (taken.length) this.deps.log.info({ partitions: taken.map((t) => t.partition), epochs: taken.map((t) => t.epoch) }, 'partitions acquired');
    // Leases another node still held, expired: that node stopped heartbeating without releasing them.
    const lost = new Map<string, number[]>();
    for (const t of taken) if (t.previous && t.previous !== nodeId) lost.set(t.previous, [...(lost.get(t.previous) ?? []), t.partition]);
    for (const [node, parts] of lost) {
      this.deps.log.warn({ node, partitions: parts }, 'took over the partitions of a node that stopped heartbeating');
      this.deps.onNodeLost?.(node, parts);
    }
  }

  private async lose(partition: number): Promise<void> {
    this.held.delete(partition);
    await this.deps.onLost(partition);
  }

  /** Stop renewing, wait for a tick in progress, and release every lease so other nodes take over at once. */
  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.ticking?.catch(() => undefined);
    await this.freeAll();
    await this.deps.db.em().getConnection().execute(`update omoi_node set status = 'down' where id = ?`, [this.deps.nodeId]);
    this.held.clear();
  }

  /** Frees every lease held under this node id, with its history. */
  private async freeAll(): Promise<void> {
    await this.transaction(async (sql) => {
      const freed = await sql('update omoi_partition_lease set node_id = null, expires_at = now() where node_id = ? returning partition, epoch', [this.deps.nodeId]);
      await recordEnded(sql, freed as Holding[]);
    });
  }

  /** Runs `work` in one transaction: a lease change and its history commit together. */
  private transaction<T>(work: (sql: Sql) => Promise<T>): Promise<T> {
    const conn = this.deps.db.em().getConnection();
    return conn.transactional((trx) => work((query, params = []) => conn.execute(query, params, 'all', trx)));
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
