import { ConfigError } from '../errors.ts';
import type { Database } from '../persistence/index.ts';

/**
 * The partition count belongs to the cluster, not to a node: a ticket's partition is a hash
 * modulo the count, so two counts would place one ticket in two partitions. The first node to
 * start on a database records its count (`omoi_cluster`); any later node must have the same.
 * Throws `ConfigError` (`OMOI_PARTITIONS`) naming both counts if it does not.
 */
export async function ensurePartitionCount(db: Database, partitions: number): Promise<void> {
  const conn = db.em().getConnection();
  // Of nodes starting at once, one insert wins; the others read its count.
  await conn.execute('insert into omoi_cluster (id, partitions, created_at) values (1, ?, now()) on conflict (id) do nothing', [partitions]);
  const [row] = (await conn.execute('select partitions from omoi_cluster where id = 1')) as Array<{ partitions: number }>;
  if (row!.partitions !== partitions) {
    throw new ConfigError('OMOI_PARTITIONS', `is ${partitions}, but the cluster on this database has ${row!.partitions} partitions; ` +
      `start every node with OMOI_PARTITIONS=${row!.partitions} (the count of a cluster cannot change)`);
  }
}
