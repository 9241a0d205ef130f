import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import t from 'tap';
import { ensureStreams, partitionConsumer, pullOptions } from '../../src/messaging/streams.ts';
import { Streams, Subjects } from '../../src/protocol/index.ts';
import { waitFor } from '../harness/index.ts';
import { withNatsCluster } from '../harness/nats-cluster.ts';

// A pull request lives on the server leading its consumer. When that server dies, a client
// connected to another server is not told: it must notice (missed idle heartbeats) and pull
// again once the consumer has a new leader. With nats.js's default pulls (30 s, a heartbeat
// every 15 s) that took 30 s and more; with `pullOptions` a few seconds past the election.

// nats-server campaigns 4–9 s after losing a raft leader; then a missed heartbeat or two and
// a consumer info. Far below the 30 s that two missed default heartbeats take alone.
const BUDGET_MS = 20_000;

t.test('a partition consumer pulls again within seconds after the server leading it is SIGKILLed', async (t) => {
  const nats = await withNatsCluster(t, 3);
  const admin = await connect({ servers: nats.url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  t.teardown(() => admin.close());
  const jsm = await jetstreamManager(admin);
  // Retried: a fresh cluster may not count all three servers as peers yet ("no suitable peers").
  await waitFor('the streams at three replicas', () => ensureStreams(jsm, { partitions: 1, maxDeliver: 5, ackWaitMs: 5_000, replicas: 3 }).then(() => true), { timeoutMs: 30_000, intervalMs: 500 });
  const consumer = partitionConsumer(0);
  const leaderName = await waitFor('a leader of the partition consumer', async () => (await jsm.consumers.info(Streams.partitions, consumer)).cluster?.leader);
  const victim = nats.servers.find((s) => s.name === leaderName)!;
  const survivor = nats.servers.find((s) => s !== victim)!;

  // The worker's client is on a server that lives: its connection never drops.
  const nc = await connect({ servers: [survivor.url], maxReconnectAttempts: -1 });
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  const received: Array<{ data: string; at: number }> = [];
  const messages = await (await js.consumers.get(Streams.partitions, consumer)).consume(pullOptions(10));
  t.teardown(() => messages.close());
  void (async () => {
    for await (const m of messages as AsyncIterable<JsMsg>) {
      received.push({ data: m.string(), at: Date.now() });
      m.ack();
    }
  })();
  const subject = `${Subjects.partitionFilter(0).replace(/>$/, '')}test.ping`;
  await js.publish(subject, 'before');
  await waitFor('the message sent before the kill', () => received.some((r) => r.data === 'before'), { timeoutMs: 30_000 });

  const killedAt = Date.now();
  victim.kill9();
  // Stored once the stream has a leader again (it may have been on the dead server too).
  await waitFor('the stream to take a message again', () => js.publish(subject, 'after', { timeout: 2_000 }).then(() => true), { timeoutMs: 60_000, intervalMs: 250 });
  const got = await waitFor('the message sent after the kill', () => received.find((r) => r.data === 'after'), { timeoutMs: 90_000, intervalMs: 100 });
  const ms = got.at - killedAt;
  t.comment(`consumer leader ${victim.name} killed; the worker on ${survivor.name} got the next message ${ms} ms later`);
  t.ok(ms <= BUDGET_MS, `the worker pulled again and got the next message within ${BUDGET_MS} ms of the kill (${ms} ms)`);
});
