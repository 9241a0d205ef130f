import t from 'tap';
import { waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';

t.test('a node sweeps rows past their retention on its own, counts them in /metrics, and stops sweeping when it stops', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { retentionEventsMs: 60_000, retentionSweepMs: 200 });
  const conn = () => node.db.em().getConnection();
  const insert = (id: string, ago: string) => conn().execute(`insert into omoi_event (message_id, type, payload, time) values (?, 'ticket.created', '{}', now() - ?::interval)`, [id, ago]);
  await insert('old-event', '2 minutes');
  await insert('young-event', '1 second');
  await waitFor('the old event swept', async () => (await conn().execute(`select 1 from omoi_event where message_id = 'old-event'`)).length === 0, { timeoutMs: 15_000 });
  t.equal((await conn().execute(`select 1 from omoi_event where message_id = 'young-event'`)).length, 1, 'the young event kept');
  const metrics = await (await fetch(`${node.httpUrl}/metrics`)).text();
  t.match(metrics, /omoi_retention_deleted_total\{table="omoi_event"\} [1-9]/, 'counted by table');
  t.match(metrics, /omoi_retention_sweeps_total\{outcome="done"\} [1-9]/);

  await node.stop();
  const sweeps = (await node.metrics.retentionSweeps.get()).values.reduce((a, v) => a + v.value, 0);
  await new Promise((r) => setTimeout(r, 600));
  t.equal((await node.metrics.retentionSweeps.get()).values.reduce((a, v) => a + v.value, 0), sweeps, 'no sweep after the node stopped');
});
