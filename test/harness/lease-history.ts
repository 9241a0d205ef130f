import type { Database } from '../../src/persistence/index.ts';

export interface Overlap { partition: number; first: string; second: string }

/**
 * Pairs of holdings of one partition whose times overlap (`omoi_lease_history`), each named
 * `node@epoch [from, to)`. Empty when no partition was ever held by two holders at once; an
 * open holding (no `held_to`) lasts until now and beyond.
 */
export async function overlappingHoldings(db: Database): Promise<Overlap[]> {
  const rows = await db.em().getConnection().execute(
    `select a.partition,
            format('%s@%s [%s, %s)', a.node_id, a.epoch, a.held_from, coalesce(a.held_to::text, 'open')) as first,
            format('%s@%s [%s, %s)', b.node_id, b.epoch, b.held_from, coalesce(b.held_to::text, 'open')) as second
       from omoi_lease_history a
       join omoi_lease_history b on b.partition = a.partition and b.epoch > a.epoch
      where tstzrange(a.held_from, a.held_to, '[)') && tstzrange(b.held_from, b.held_to, '[)')
      order by a.partition, a.epoch, b.epoch`,
  );
  return rows as Overlap[];
}

/** Holdings whose epochs and start times disagree (a later epoch that started earlier): empty when the history is ordered. */
export async function misorderedHoldings(db: Database): Promise<Array<{ partition: number; epoch: number }>> {
  return (await db.em().getConnection().execute(
    `select a.partition, a.epoch from omoi_lease_history a
       join omoi_lease_history b on b.partition = a.partition and b.epoch > a.epoch and b.held_from < a.held_from`,
  )) as Array<{ partition: number; epoch: number }>;
}
