import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import t from 'tap';
import { waitFor } from '../harness/index.ts';
import { withCluster } from '../harness/node.ts';
import { connectNats } from '../../src/messaging/connection.ts';
import { ExhaustedDeliveries } from '../../src/messaging/exhausted-deliveries.ts';
import { Rejections } from '../../src/messaging/rejections.ts';
import { ensureStreams, partitionConsumer } from '../../src/messaging/streams.ts';
import { Metrics } from '../../src/metrics.ts';
import { openDatabase } from '../../src/persistence/index.ts';
import { Streams } from '../../src/protocol/index.ts';

// A message whose deliveries ran out while no node heard JetStream's announcement stays in the
// work queue for good; the reconciliation finds it and dead-letters it, and touches nothing else.
t.test('a message exhausted unannounced is dead-lettered by the reconciliation; awaited and young work is left alone', async (t) => {
  const log = pino({ level: process.env.OMOI_TEST_LOG ?? 'silent' });
  const cluster = await withCluster(t);
  const db = await openDatabase(cluster.databaseUrl, log);
  t.teardown(() => db.close());
  const nc = await connectNats(cluster.nats.url, 'reconcile-test', log);
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await ensureStreams(jsm, { partitions: 2, maxDeliver: 1, ackWaitMs: 1_000 }); // two deliveries, a second apart
  const sql = async <T = any>(q: string) => (await db.em().getConnection().execute(q)) as T[];
  const metrics = new Metrics();
  // Never started: no node listens to the announcements, as when they are lost.
  const exhausted = new ExhaustedDeliveries({ nc, jsm, rejections: new Rejections({ db, js, log, metrics, source: 'test' }), log });
  const part = (p: number) => ({ stream: Streams.partitions, consumer: partitionConsumer(p) });

  const lost = await js.publish('omoi.part.0.ticket.wake', '{"lost":true}', { msgID: 'lost-1' });
  const c0 = await js.consumers.get(Streams.partitions, partitionConsumer(0));
  let deliveries = 0;
  await waitFor('both deliveries of the message, never acked', async () => {
    for await (const _m of await c0.fetch({ max_messages: 1, expires: 1_000 })) deliveries++;
    return deliveries >= 2;
  }, { timeoutMs: 20_000 });
  // JetStream gives up on it when it would redeliver it: to a pull waiting, as a partition worker's always is.
  await waitFor('its consumer no longer awaiting it', async () => {
    for await (const _m of await c0.fetch({ max_messages: 1, expires: 1_000 })) deliveries++;
    return (await jsm.consumers.info(Streams.partitions, partitionConsumer(0))).num_ack_pending === 0;
  }, { timeoutMs: 20_000 });
  t.equal(deliveries, 2, 'delivered twice, no more');
  // Work after it on the same partition, done: acked (and so gone).
  await js.publish('omoi.part.0.ticket.wake', '{"done":true}', { msgID: 'done-1' });
  for await (const m of await c0.fetch({ max_messages: 1, expires: 2_000 })) await m.ackAck();
  // Work awaited on partition 1: delivered, its ack still possible.
  await js.publish('omoi.part.1.ticket.wake', '{"awaited":true}', { msgID: 'awaited-1' });
  const c1 = await js.consumers.get(Streams.partitions, partitionConsumer(1));
  for await (const _m of await c1.fetch({ max_messages: 1, expires: 2_000 })) break;
  t.equal((await jsm.streams.getMessage(Streams.partitions, { seq: lost.seq }))?.seq, lost.seq, 'the exhausted message is still in the work queue');

  t.equal(await exhausted.reconcile([part(0), part(1)], 60_000), 0, 'within the grace: left to the announcement');
  t.equal(await exhausted.reconcile([part(1)], 0), 0, 'a consumer awaiting an ack is not judged');
  t.equal(await exhausted.reconcile([part(0), part(1)], 0), 1, 'the exhausted message found');
  const rows = await sql(`select message_id, code, status, subject from omoi_dead_letter`);
  t.same(rows, [{ message_id: 'lost-1', code: 'max_deliver_exceeded', status: 'open', subject: 'omoi.part.0.ticket.wake' }], 'dead-lettered with its id, open for `omoi dlq retry`');
  t.equal(await jsm.streams.getMessage(Streams.partitions, { seq: lost.seq }).catch(() => null), null, 'and gone from the work queue');
  t.same((await jsm.streams.info(Streams.partitions, { subjects_filter: '>' })).state.subjects, { 'omoi.part.1.ticket.wake': 1 }, 'the awaited message is still there');
  t.equal(await exhausted.reconcile([part(0), part(1)], 0), 0, 'nothing more to find');
});
