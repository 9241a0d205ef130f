import t from 'tap';
import { pino } from 'pino';
import { LeaseManager } from '../../src/cluster/index.ts';
import { openDatabase, type Database } from '../../src/persistence/index.ts';
import { misorderedHoldings, overlappingHoldings, waitFor, withPostgres, type TestContext } from '../harness/index.ts';

const log = pino({ level: 'silent' });

async function migratedDatabase(t: TestContext): Promise<Database> {
  const pg = await withPostgres(t);
  const db = await openDatabase(pg.url, log);
  t.teardown(() => db.close());
  return db;
}

async function sql<T = Record<string, any>>(db: Database, query: string, params: unknown[] = []): Promise<T[]> {
  return (await db.em().getConnection().execute(query, params)) as T[];
}

/** A lease manager of node `nodeId` on `db`; its timer never fires in these tests (ticks are called by hand). */
function leaseManager(db: Database, nodeId: string, partitions: number, more: Partial<ConstructorParameters<typeof LeaseManager>[0]> = {}) {
  const acquired: Array<[number, number]> = [];
  const lost: number[] = [];
  const leases = new LeaseManager({
    db, log, nodeId, partitions, heartbeatMs: 3_600_000,
    onAcquired: async (p, e) => void acquired.push([p, e]),
    onLost: async (p) => void lost.push(p),
    ...more,
  });
  return { leases, acquired, lost };
}

t.test('a tick still running when the next is due is not started twice', async (t) => {
  const db = await migratedDatabase(t);
  const acquired: Array<[number, number]> = [];
  let letGo!: () => void;
  const slow = new Promise<void>((resolve) => (letGo = resolve));
  const { leases } = leaseManager(db, 'slow', 4, {
    // The first partition's worker takes long to start: the tick that took it is still running.
    onAcquired: async (p, e) => {
      acquired.push([p, e]);
      if (acquired.length === 1) await slow;
    },
  });
  const first = leases.start();
  await waitFor('the first tick inside onAcquired', () => acquired.length === 1);
  // Meanwhile the slow tick's leases ran out: a second tick would take partitions 1..3 again
  // (a new epoch) while the first is about to start their workers at the old one.
  await sql(db, 'update omoi_partition_lease set expires_at = now()');
  const second = leases.tick();
  t.equal(leases.tick(), second, 'a tick called while one runs is that same tick, not a new one');
  letGo();
  await Promise.all([first, second]);
  t.same(acquired, [[0, 1], [1, 1], [2, 1], [3, 1]], 'each partition acquired once, at epoch 1');
  t.same(await sql(db, 'select partition, epoch, node_id from omoi_partition_lease order by partition'),
    [0, 1, 2, 3].map((p) => ({ partition: p, epoch: 1, node_id: 'slow' })), 'no lease was taken a second time');

  // The next tick renews at the epochs the node knows, and release waits for a tick in progress.
  const third = leases.tick();
  await leases.release();
  await third;
  t.same(await sql(db, 'select count(*)::int as n from omoi_partition_lease where node_id is not null'), [{ n: 0 }], 'released after the tick');
  t.same(await overlappingHoldings(db), []);
});

t.test('lease history: three nodes contending, stalling and restarting never hold a partition at the same time', async (t) => {
  const db = await migratedDatabase(t);
  const partitions = 8;
  const nodes = ['a', 'b', 'c'].map((id) => ({ id, ...leaseManager(db, id, partitions) }));
  await Promise.all(nodes.map((n) => n.leases.start()));
  for (let round = 0; round < 12; round++) {
    const odd = nodes[round % 3]!;
    let ticking = nodes;
    if (round % 4 === 1) {
      // A node stalls for a round: its heartbeat and leases run out while it still believes it
      // holds them; the others take its partitions.
      await sql(db, `update omoi_node set heartbeat_at = now() - interval '1 day' where id = ?`, [odd.id]);
      await sql(db, 'update omoi_partition_lease set expires_at = now() where node_id = ?', [odd.id]);
      ticking = nodes.filter((n) => n !== odd);
    }
    if (round % 4 === 3) {
      // A node stops gracefully and starts again under the same id.
      await odd.leases.release();
      await odd.leases.start();
    }
    await Promise.all(ticking.map((n) => n.leases.tick()));
  }
  t.teardown(() => Promise.all(nodes.map((n) => n.leases.release())));

  const history = await sql<{ partition: number; holders: number; rows: number }>(db,
    'select partition, count(distinct node_id)::int as holders, count(*)::int as rows from omoi_lease_history group by partition order by partition');
  t.equal(history.length, partitions, 'every partition has a history');
  t.ok(history.filter((h) => h.holders >= 2).length >= partitions / 2, `most partitions changed holder (${JSON.stringify(history)})`);
  t.same(await overlappingHoldings(db), [], 'no two holdings of a partition overlap');
  t.same(await misorderedHoldings(db), [], 'a later epoch never started before an earlier one');
  const open = await sql(db, 'select partition, epoch, node_id from omoi_lease_history where held_to is null order by partition');
  const held = await sql(db, 'select partition, epoch, node_id from omoi_partition_lease where node_id is not null order by partition');
  t.same(open, held, 'the open holdings are exactly the leases held now');
  t.ok(nodes.every((n) => n.leases.owned().every((p) => held.some((h) => h.partition === p && h.node_id === n.id))), 'no node believes it holds a lease it does not');
});

t.test('the overlap query finds overlapping holdings', async (t) => {
  // The check of the check: the query must not be blind.
  const db = await migratedDatabase(t);
  await sql(db, `insert into omoi_lease_history (partition, epoch, node_id, held_from, held_to) values
    (0, 1, 'a', '2026-01-01T10:00:00Z', '2026-01-01T10:00:10Z'), (0, 2, 'b', '2026-01-01T10:00:10Z', null),
    (1, 1, 'a', '2026-01-01T10:00:00Z', null), (1, 2, 'b', '2026-01-01T10:00:05Z', '2026-01-01T10:00:06Z')`);
  const found = await overlappingHoldings(db);
  t.same(found.map((o) => o.partition), [1], 'partition 1 (an open holding and a later one); not partition 0 (one ends as the next starts)');
  t.match(found[0]!.first, /^a@1 /);
  t.match(found[0]!.second, /^b@2 /);
});
