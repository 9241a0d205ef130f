import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import t from 'tap';
import { waitFor } from '../harness/index.ts';
import { withCluster } from '../harness/node.ts';
import { connectNats } from '../../src/messaging/connection.ts';
import { effectPublisher, encodeCommand } from '../../src/executor/index.ts';
import { OutboxPublisher } from '../../src/messaging/outbox.ts';
import { OutboxSweeper } from '../../src/messaging/outbox-sweeper.ts';
import { ensureStreams } from '../../src/messaging/streams.ts';
import { openDatabase } from '../../src/persistence/index.ts';
import { Streams } from '../../src/protocol/index.ts';

// The continuous outbox sweep and the effect publisher, against a real nats-server (killed with
// SIGKILL and restarted on its store) and a real PostgreSQL.
const log = pino({ level: process.env.OMOI_TEST_LOG ?? 'silent' });
const cluster = await withCluster(t);
const db = await openDatabase(cluster.databaseUrl, log);
t.teardown(() => db.close());
const nc = await connectNats(cluster.nats.url, 'outbox-test', log);
t.teardown(() => nc.close());
const jsm = await jetstreamManager(nc);
const partitions = 4;
await ensureStreams(jsm, { partitions, maxDeliver: 5, ackWaitMs: 5_000 });
// A short publish timeout: publications fail fast while the server is away.
const js = jetstream(nc, { timeout: 1_000 });
const outbox = new OutboxPublisher({ js, db, log });
const sql = async <T = any>(q: string, params: unknown[] = []) => (await db.em().getConnection().execute(q, params)) as T[];
/** Messages in OMOI_PART with this envelope id (JetStream keeps one per Nats-Msg-Id). */
const copies = async (id: string) => {
  let n = 0;
  const info = await jsm.streams.info(Streams.partitions);
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages; seq++) {
    const m = await jsm.streams.getMessage(Streams.partitions, { seq }).catch(() => null);
    if (m && m.json<{ id: string }>().id === id) n++;
  }
  return n;
};
const row = (id: string) => {
  const c = encodeCommand('ticket.wake', { ticket_id: id }, `wake-test:${id}`, partitions, 'test');
  return { message_id: `wake-test:${id}`, subject: c.subject, body: Buffer.from(c.body).toString('utf8'), partition: c.partition };
};
const all = Array.from({ length: partitions }, (_, p) => p);

t.test('rows a commit left are published by the sweep alone, once, and deleted', async (t) => {
  const sweeper = new OutboxSweeper({ outbox, held: () => all, log }, { intervalMs: 50, minAgeMs: 0 });
  await outbox.keep(row('S1'));
  await outbox.keep(row('S1')); // the same message id twice: one row
  t.equal((await sql(`select * from omoi_outbox where message_id = 'wake-test:S1'`)).length, 1);
  sweeper.start();
  t.teardown(() => sweeper.stop());
  await waitFor('the row published and deleted', async () => (await sql(`select * from omoi_outbox`)).length === 0);
  t.equal(await copies('wake-test:S1'), 1, 'in JetStream once');
  // A copy of an already published row (a node that crashed before deleting it) is dropped by JetStream.
  await outbox.keep(row('S1'));
  await waitFor('the copy swept', async () => (await sql(`select * from omoi_outbox`)).length === 0);
  t.equal(await copies('wake-test:S1'), 1, 'still once: the message id deduplicates');
});

t.test('while NATS is down rows stay and the sweep backs off; after the restart they land', async (t) => {
  const sweeper = new OutboxSweeper({ outbox, held: () => all, log }, { intervalMs: 50, maxBackoffMs: 400, minAgeMs: 0 });
  cluster.nats.kill9();
  t.teardown(() => cluster.nats.restart().catch(() => undefined));
  await outbox.keep(row('S2'));
  const down = await sweeper.sweep();
  t.equal(down.failed, 1, 'the publication failed');
  t.equal((await sql(`select * from omoi_outbox where message_id = 'wake-test:S2'`)).length, 1, 'the row is kept');
  sweeper.start();
  t.teardown(() => sweeper.stop());
  await cluster.nats.restart();
  await waitFor('the row published after the restart', async () => (await sql(`select * from omoi_outbox`)).length === 0, { timeoutMs: 30_000 });
  t.equal(await copies('wake-test:S2'), 1, 'in JetStream once');
});

t.test('an effect publisher resolves once its result is durable: kept in the outbox while NATS is down', async (t) => {
  const stop = new AbortController();
  t.teardown(() => stop.abort());
  const publish = effectPublisher({ js, outbox, log, partitions, source: 'test', signal: stop.signal, backoffMs: 50 });
  cluster.nats.kill9();
  t.teardown(() => cluster.nats.restart().catch(() => undefined));
  await publish('task.complete', { ticket_id: 'E1', task_id: 'A', attempt: 1, result: {} }, 'task-result:E1:A:1');
  const kept = await sql(`select * from omoi_outbox where message_id = 'task-result:E1:A:1'`);
  t.equal(kept.length, 1, 'kept in the outbox of its ticket\'s partition');
  t.equal(kept[0].partition, encodeCommand('task.complete', { ticket_id: 'E1', task_id: 'A', attempt: 1 }, 'x', partitions, 'test').partition);
  await t.rejects(publish('task.complete', { ticket_id: 'E1', task_id: 'A', attempt: 'one' } as any, 'bad'), 'a payload that breaks the schema is a bug: rejected at once');

  // The node that kept it is gone: a new sweeper (another node, or this one restarted) delivers it.
  await cluster.nats.restart();
  const other = new OutboxSweeper({ outbox: new OutboxPublisher({ js, db, log }), held: () => all, log }, { intervalMs: 50, minAgeMs: 0 });
  other.start();
  t.teardown(() => other.stop());
  await waitFor('the kept result published', async () => (await sql(`select * from omoi_outbox`)).length === 0, { timeoutMs: 30_000 });
  t.equal(await copies('task-result:E1:A:1'), 1, 'in JetStream once (a buffered publish of the client and the sweep are one message)');
});
