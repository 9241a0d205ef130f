/**
 * The history of partition lease holdings (`omoi_lease_history`): who held which partition,
 * at which epoch, from when until when.
 *
 * Invariants:
 * 1. Every change of a lease's holder writes its history in the same transaction, after the
 *    statement that changed (and locked) the lease row: the holding that ends gets `held_to`,
 *    the one that starts a row with `held_from` and no `held_to`.
 * 2. The times are `clock_timestamp()`, read while the lease row is locked. The next holder
 *    can lock the row only once the previous change committed, so its `held_from` is later
 *    than the previous `held_to`: holdings of one partition never overlap, and the table can
 *    prove it (`test/harness/lease-history.ts`).
 */

/** Runs one statement in the caller's transaction. */
export type Sql = (query: string, params?: unknown[]) => Promise<Array<Record<string, any>>>;

export interface Holding { partition: number; epoch: number }

/**
 * `nodeId` took these leases: ends what was still open for them (an expired holder's), then
 * opens the new holdings. A lease another node still held (`previous`, expired) is a failover:
 * its holding names that node in `taken_over_from`.
 */
export async function recordTaken(sql: Sql, nodeId: string, taken: Array<Holding & { previous?: string | null }>): Promise<void> {
  if (taken.length === 0) return;
  const partitions = intArray(taken.map((h) => h.partition));
  await sql('update omoi_lease_history set held_to = clock_timestamp() where partition = any(?::int[]) and held_to is null', [partitions]);
  const from = taken.map((h) => (h.previous && h.previous !== nodeId ? h.previous : null));
  await sql(
    `insert into omoi_lease_history (partition, epoch, node_id, held_from, taken_over_from)
     select h.partition, h.epoch, ?, clock_timestamp(), h.previous from unnest(?::int[], ?::int[], ?::text[]) as h(partition, epoch, previous)`,
    [nodeId, partitions, intArray(taken.map((h) => h.epoch)), textArray(from)],
  );
}

/** These holdings ended (given back, released). */
export async function recordEnded(sql: Sql, ended: Holding[]): Promise<void> {
  if (ended.length === 0) return;
  await sql(
    `update omoi_lease_history l set held_to = clock_timestamp()
     from unnest(?::int[], ?::int[]) as h(partition, epoch)
     where l.partition = h.partition and l.epoch = h.epoch and l.held_to is null`,
    [intArray(ended.map((h) => h.partition)), intArray(ended.map((h) => h.epoch))],
  );
}

/** A PostgreSQL text[] literal; null elements stay SQL null (node ids are safe ids, but quoted all the same). */
function textArray(values: Array<string | null>): string {
  return `{${values.map((v) => (v === null ? 'NULL' : `"${v.replace(/["\\]/g, '\\$&')}"`)).join(',')}}`;
}

/** A PostgreSQL int[] literal (a JS array would be expanded into a list of parameters). */
export function intArray(values: number[]): string {
  return `{${values.join(',')}}`;
}
