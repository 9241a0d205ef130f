import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import t from 'tap';
import { EventFeed, type FeedListener, type LiveEvent } from '../../src/http/live-events/event-feed.ts';
import { connectNats } from '../../src/messaging/connection.ts';
import { ensureStreams } from '../../src/messaging/streams.ts';
import { encode, makeEnvelope, Subjects } from '../../src/protocol/index.ts';
import { waitFor, withNats } from '../harness/index.ts';

const log = pino({ level: 'silent' });

/** What one listener was given. */
function recorder(): FeedListener & { events: LiveEvent[]; beats: number } {
  const r = { events: [] as LiveEvent[], beats: 0, offer: (e: LiveEvent) => { r.events.push(e); }, heartbeat: () => { r.beats++; } };
  return r;
}

t.test('one feed per node gets every publisher\'s events from the stream, skips undecodable ones, and heartbeats its listeners', async (t) => {
  const nats = await withNats(t);
  const [mine, other] = await Promise.all([connectNats(nats.url, 'feed-node', log), connectNats(nats.url, 'another-node', log)]);
  t.teardown(() => Promise.all([mine.close(), other.close()]));
  await ensureStreams(await jetstreamManager(mine), { partitions: 1, maxDeliver: 5, ackWaitMs: 30_000 });
  const js = jetstream(other);
  const before = makeEnvelope('node.status', { node_id: 'n0', status: 'up', partitions: [] }, { source: 'n0' });
  await js.publish(Subjects.event('node.status'), encode(before));

  const feed = await EventFeed.start({ js: jetstream(mine), jsm: await jetstreamManager(mine), log, heartbeatMs: 100 });
  t.teardown(() => feed.stop());
  const a = recorder();
  const b = recorder();
  feed.add(a);
  feed.add(b);
  const env = makeEnvelope('ticket.created', { ticket_id: 'T1', title: 't', repository: '/r', tasks: [] }, { source: 'n1' });
  await js.publish(Subjects.event('ticket.created'), encode(env));
  await js.publish(Subjects.event('bad'), new TextEncoder().encode('not json'));
  await js.publish(Subjects.event('bad'), new TextEncoder().encode(JSON.stringify({ type: 'x\ndata: injected', payload: {} })));
  const last = makeEnvelope('node.status', { node_id: 'n1', status: 'up', partitions: [] }, { source: 'n1' });
  await js.publish(Subjects.event('node.status'), encode(last));

  await waitFor('both events and a heartbeat', async () => (a.events.length >= 2 && a.beats > 0) || undefined);
  t.same(a.events.map((e) => e.type), ['ticket.created', 'node.status'], 'published by another connection, after the feed started; undecodable and unsafe types skipped');
  t.same(b.events.map((e) => e.frame), a.events.map((e) => e.frame), 'every listener gets the same frames');
  t.equal(a.events[0]!.ticketId, 'T1');
  t.equal(a.events[0]!.frame, `id: ${a.events[0]!.seq}\nevent: ticket.created\ndata: ${JSON.stringify(env)}\n\n`);
  t.ok(a.events[1]!.seq > a.events[0]!.seq + 2, 'positions are the stream\'s (the skipped ones took theirs)');
  t.equal(feed.position, a.events[1]!.seq);

  const replayed: string[] = [];
  await feed.replay(0, feed.position, (e) => replayed.push(`${e.seq}:${e.type}`));
  t.same(replayed, [`1:node.status`, ...a.events.map((e) => `${e.seq}:${e.type}`)], 'a read-back from the start has the event from before the feed too');

  feed.remove(a);
  const beats = a.beats;
  await new Promise((r) => setTimeout(r, 300));
  t.equal(a.beats, beats, 'a removed listener gets nothing more');
  t.ok(b.beats > beats, 'the others still do');
});
