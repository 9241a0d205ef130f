import t from 'tap';
import { pino } from 'pino';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../../src/messaging/connection.ts';
import { ensureStreams, partitionConsumer, ROUTER_CONSUMER } from '../../src/messaging/streams.ts';
import { Streams } from '../../src/protocol/index.ts';
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
