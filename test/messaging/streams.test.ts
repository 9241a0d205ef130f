import t from 'tap';
import { pino } from 'pino';
import { DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connectNats } from '../../src/messaging/connection.ts';
import { DEFAULT_WORK_QUEUE_MAX_BYTES, ensureStreams, partitionConsumer, ROUTER_CONSUMER } from '../../src/messaging/streams.ts';
import { Streams, Subjects } from '../../src/protocol/index.ts';
import { withNats } from '../harness/index.ts';

t.test('three nodes creating the streams and consumers at the same moment on a fresh server all succeed', async (t) => {
  const nats = await withNats(t);
  const log = pino({ level: 'silent' });
  const settings = { partitions: 8, maxDeliver: 5, ackWaitMs: 30_000 };
  const managers = await Promise.all([1, 2, 3].map(async (i) => {
    const nc = await connectNats(nats.url, `streams-${i}`, log);
    t.teardown(() => nc.close());
    return jetstreamManager(nc);
  }));
  const outcome = async () => (await Promise.allSettled(managers.map((jsm) => ensureStreams(jsm, settings))))
    .map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'));

  t.same(await outcome(), ['ok', 'ok', 'ok'], 'every node created (or found) the streams on a fresh server');
  t.same(await outcome(), ['ok', 'ok', 'ok'], 'and again at once on the next start (updates)');

  const jsm = managers[0]!;
  const streams: string[] = [];
  for await (const s of jsm.streams.list()) streams.push(s.config.name);
  t.same(streams.sort(), [Streams.events, Streams.ingress, Streams.partitions].sort(), 'each stream once');
  const consumers: string[] = [];
  for await (const c of jsm.consumers.list(Streams.partitions)) consumers.push(c.name);
  t.same(consumers.sort(), Array.from({ length: 8 }, (_, p) => partitionConsumer(p)).sort(), 'one consumer per partition');
  t.equal((await jsm.consumers.info(Streams.ingress, ROUTER_CONSUMER)).name, ROUTER_CONSUMER);
});

t.test('OMOI_PART is bounded: acked messages go, unacked ones stay, and when full a publish is refused, never a stored message dropped', async (t) => {
  const nats = await withNats(t);
  const nc = await connectNats(nats.url, 'streams-bounded', pino({ level: 'silent' }));
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const maxBytes = 1024 * 1024;
  await ensureStreams(jsm, { partitions: 2, maxDeliver: 5, ackWaitMs: 30_000, streamMaxBytes: maxBytes });
  const config = (await jsm.streams.info(Streams.partitions)).config;
  t.equal(config.retention, RetentionPolicy.Workqueue, 'a work queue: a message goes when its consumer acks it');
  t.equal(config.max_bytes, maxBytes);
  t.equal(config.discard, DiscardPolicy.New, 'when full, new messages are refused, stored ones kept');
  t.equal(config.max_age, 0, 'no age limit: it would drop work nobody acked');
  t.equal((await jsm.streams.info(Streams.ingress)).config.max_bytes, maxBytes, 'OMOI_IN bounded the same way');

  for (let i = 0; i < 10; i++) {
    await js.publish('omoi.part.0.ticket.create', `{"n":${i}}`, { msgID: `p0-${i}` });
    await js.publish('omoi.part.1.ticket.create', `{"n":${i}}`, { msgID: `p1-${i}` });
  }
  const part0 = await js.consumers.get(Streams.partitions, partitionConsumer(0));
  let acked = 0;
  while (acked < 10) {
    for await (const m of await part0.fetch({ max_messages: 10, expires: 2_000 })) {
      await m.ackAck();
      acked++;
    }
  }
  const stored = async () => (await jsm.streams.info(Streams.partitions, { subjects_filter: '>' })).state;
  let state = await stored();
  t.equal(state.messages, 10, 'the acked messages of partition 0 are gone');
  t.same(state.subjects, { 'omoi.part.1.ticket.create': 10 }, 'the unacked ones of partition 1 all stay');

  const big = 'x'.repeat(100 * 1024);
  let refused: unknown;
  for (let i = 0; i < 20 && !refused; i++) {
    await js.publish('omoi.part.0.ticket.create', big, { msgID: `big-${i}` }).catch((err) => (refused = err));
  }
  t.match(String(refused), /maximum bytes|resource|exceeded/i, `a publish into the full stream is refused (${String(refused)})`);
  state = await stored();
  t.ok(state.bytes <= maxBytes, `at most max_bytes stored (${state.bytes})`);
  t.equal(state.subjects?.['omoi.part.1.ticket.create'], 10, 'no unacked message was dropped to make room');
  t.equal(new TextDecoder().decode((await jsm.streams.getMessage(Streams.partitions, { seq: state.first_seq }))!.data), '{"n":0}', 'the oldest unacked message is still first');
});

t.test('a stream made before the limits gets them in place, with its messages; one JetStream cannot change in place is left alone, with a warning', async (t) => {
  const nats = await withNats(t);
  const nc = await connectNats(nats.url, 'streams-upgrade', pino({ level: 'silent' }));
  t.teardown(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  // As the node made it before: a work queue without a size bound, holding unprocessed work.
  await jsm.streams.add({ name: Streams.partitions, subjects: [Subjects.partitionAll], retention: RetentionPolicy.Workqueue, storage: StorageType.File });
  // And an ingress stream of another retention (no Omoi version made one; a hand-made one could be).
  await jsm.streams.add({ name: Streams.ingress, subjects: [Subjects.ingressAll], retention: RetentionPolicy.Limits, storage: StorageType.File });
  await js.publish('omoi.part.0.ticket.create', '{"kept":true}');
  await js.publish('omoi.in.ticket.create', '{"kept":true}');
  const warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
  await ensureStreams(jsm, { partitions: 1, maxDeliver: 5, ackWaitMs: 30_000, warn: (fields, message) => warnings.push({ fields, message }) });
  const part = await jsm.streams.info(Streams.partitions);
  t.equal(part.config.max_bytes, DEFAULT_WORK_QUEUE_MAX_BYTES, 'the size bound applied in place');
  t.equal(part.config.discard, DiscardPolicy.New);
  t.equal(part.state.messages, 1, 'its unprocessed message kept');
  const ingress = await jsm.streams.info(Streams.ingress);
  t.equal(ingress.config.retention, RetentionPolicy.Limits, 'a retention JetStream cannot change in place is left as it is');
  t.equal(ingress.state.messages, 1);
  t.equal(warnings.length, 1, 'one warning');
  t.match(warnings[0]!.message, /stream OMOI_IN has limits retention, not workqueue: nats-server cannot change it in place/);
  t.same(warnings[0]!.fields, { stream: Streams.ingress, retention: 'limits', expected: 'workqueue' });
  t.equal((await jsm.consumers.info(Streams.ingress, ROUTER_CONSUMER)).name, ROUTER_CONSUMER, 'its consumer is still made: the node starts');
});
