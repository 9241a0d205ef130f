import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import t from 'tap';
import { waitFor } from '../harness/index.ts';
import { withCluster } from '../harness/node.ts';
import { FencedError } from '../../src/errors.ts';
import { encodeCommand } from '../../src/executor/index.ts';
import { connectNats } from '../../src/messaging/connection.ts';
import { ExhaustedDeliveries } from '../../src/messaging/exhausted-deliveries.ts';
import type { GroupCommitter } from '../../src/messaging/group-commit.ts';
import { OutboxPublisher } from '../../src/messaging/outbox.ts';
import { PartitionWorker } from '../../src/messaging/partition-worker.ts';
import { Rejections } from '../../src/messaging/rejections.ts';
import { ensureStreams } from '../../src/messaging/streams.ts';
import { Metrics } from '../../src/metrics.ts';
import { openDatabase } from '../../src/persistence/index.ts';
import { Streams } from '../../src/protocol/index.ts';

// A message only handed back (its partition fenced off) on every delivery is re-queued with a
// fresh budget, never lost; one whose deliveries JetStream gave up on ends as a dead letter.
const log = pino({ level: process.env.OMOI_TEST_LOG ?? 'silent' });
const cluster = await withCluster(t);
const db = await openDatabase(cluster.databaseUrl, log);
t.teardown(() => db.close());
const nc = await connectNats(cluster.nats.url, 'hand-back-test', log);
t.teardown(() => nc.close());
const jsm = await jetstreamManager(nc);
const maxDeliver = 2;
await ensureStreams(jsm, { partitions: 1, maxDeliver, ackWaitMs: 1_000 });
const js = jetstream(nc);
const metrics = new Metrics();
const sql = async <T = any>(q: string, params: unknown[] = []) => (await db.em().getConnection().execute(q, params)) as T[];

t.test('handed back on every delivery (fencing): re-queued with a fresh budget on its last one, never left behind, applied once', async (t) => {
  let fenced = 0;
  // The narrow seam: a committer whose every transaction finds the lease gone.
  const fencing = { commit: async () => { fenced++; throw new FencedError(0, 1); } } as unknown as GroupCommitter;
  const options = { js, log, metrics, outbox: new OutboxPublisher({ js, db, log }), rejections: new Rejections({ db, js, log, metrics, source: 'test' }), fetchBatch: 16, maxDeliver, onFenced: () => undefined };
  const first = new PartitionWorker(0, { ...options, committer: fencing });
  await first.start();
  const c = encodeCommand('ticket.wake', { ticket_id: 'H1' }, 'wake:H1:fenced', 1, 'test');
  const original = await js.publish(c.subject, c.body, { msgID: 'wake:H1:fenced' });

  const copy = await waitFor('the original gone, a copy queued', async () => {
    const state = (await jsm.streams.info(Streams.partitions)).state;
    return state.first_seq > original.seq && state.messages === 1 ? state.first_seq : undefined;
  }, { timeoutMs: 30_000 });
  t.ok(fenced >= 1, 'handed back, never failed');
  const stored = await jsm.streams.getMessage(Streams.partitions, { seq: copy });
  t.equal(stored?.header.get('Nats-Msg-Id'), `wake:H1:fenced:handed-back:${original.seq}`, 'the copy names the original');
  t.same(await sql(`select * from omoi_dead_letter where message_id = 'wake:H1:fenced'`), [], 'not a dead letter');
  await first.drain();

  // A new holder of the partition applies the copy: the same envelope, once.
  const applied: string[] = [];
  const committing = {
    commit: async (job: { items: Array<{ env: { id: string } }> }) => {
      for (const item of job.items) applied.push(item.env.id);
      return { handled: new Set(job.items) };
    },
  } as unknown as GroupCommitter;
  const second = new PartitionWorker(0, { ...options, committer: committing });
  await second.start();
  t.teardown(() => second.drain());
  await waitFor('the copy applied', async () => applied.length === 1, { timeoutMs: 30_000 });
  t.same(applied, ['wake:H1:fenced'], 'the copy carries the original envelope');
  await waitFor('nothing left in the work queue', async () => (await jsm.streams.info(Streams.partitions)).state.messages === 0);
  t.pass('acknowledged');
});

t.test('a message whose last delivery is never acknowledged (its worker hung) is dead-lettered from the advisory', async (t) => {
  const rejections = new Rejections({ db, js, log, metrics, source: 'test' });
  const exhausted = new ExhaustedDeliveries({ nc, jsm, rejections, log });
  exhausted.start();
  t.teardown(() => exhausted.stop());
  await nc.flush();
  // A worker whose transaction never ends: it never acks, JetStream redelivers until it gives up.
  let release: (e: unknown) => void = () => undefined;
  const committer = { commit: () => new Promise((_, reject) => { release = reject; }) } as unknown as GroupCommitter;
  const worker = new PartitionWorker(0, {
    js, log, metrics, committer, outbox: new OutboxPublisher({ js, db, log }), rejections, fetchBatch: 16, maxDeliver, onFenced: () => undefined,
  });
  await worker.start();
  t.teardown(async () => {
    release(new FencedError(0, 1));
    await worker.drain();
  });
  const c = encodeCommand('ticket.wake', { ticket_id: 'H2' }, 'wake:H2:hung', 1, 'test');
  await js.publish(c.subject, c.body, { msgID: 'wake:H2:hung' });

  const dead = await waitFor('a dead letter', async () => (await sql(`select * from omoi_dead_letter where message_id = 'wake:H2:hung'`))[0], { timeoutMs: 30_000 });
  t.equal(dead.code, 'max_deliver_exceeded');
  t.equal(dead.deliveries, maxDeliver + 1);
  t.match(dead.reason, /the last delivery was never acknowledged/);
  t.match(JSON.parse(dead.body), { type: 'ticket.wake', payload: { ticket_id: 'H2' } }, 'the original bytes, for omoi dlq retry');
  await waitFor('the message gone from the work queue', async () => (await jsm.streams.info(Streams.partitions)).state.messages === 0);
  t.pass('deleted from the stream');
});
