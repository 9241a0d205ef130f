import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import t, { type Test } from 'tap';
import { encode, makeEnvelope, Streams, Subjects } from '../../src/protocol/index.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { task, waitTask, waitTicket } from '../flow/helpers.ts';
import { openStream, type SseEvent, type SseStream } from './sse-client.ts';

const cluster = await withCluster(t);
const BUFFER = 64 * 1024;
const MAX_CLIENTS = 4;
const node = await withNode(t, cluster, { sseMaxClients: MAX_CLIENTS, sseClientBufferBytes: BUFFER });
const nc = await withClient(t, cluster);
const auth = { authorization: `Bearer ${node.apiToken}` };

/** Opens a stream, closed when the test `tt` ends. */
async function stream(tt: Test, path: string, headers: Record<string, string> = auth): Promise<SseStream> {
  const s = await openStream(node.httpUrl, path, headers);
  tt.teardown(() => s.close());
  return s;
}

const envelope = (e: SseEvent) => JSON.parse(e.data) as { id: string; type: string; payload: Record<string, any> };
const ids = (events: SseEvent[]) => events.map((e) => Number(e.id));
const completed = (ticket: string) => (events: SseEvent[]) => events.some((e) => e.event === 'ticket.completed' && envelope(e).payload.ticket_id === ticket);
const eventRows = async (ticket: string) => ((await node.db.em().getConnection().execute(
  'select message_id from omoi_event where ticket_id = ?', [ticket])) as Array<{ message_id: string }>).map((r) => r.message_id);

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${node.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

t.test('a client receives the live events of a running ticket, in order, each with its position, type and envelope', async (t) => {
  const s = await stream(t, '/api/events/stream?ticket_id=SSE1');
  t.equal(s.status, 200);
  t.match(s.headers['content-type'], /^text\/event-stream/);
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', { ticket_id: 'SSE1', title: 'live', repository: repo.dir, base_branch: 'main', tasks: [task('A', 'true'), task('B', 'true', { depends_on: ['A'] })] });
  await s.until(completed('SSE1'), 'SSE1 ended');
  const got = s.events;
  t.ok(got.length >= 5, `a ticket of two tasks makes several events (${got.length})`);
  t.same(ids(got), [...ids(got)].sort((a, b) => a - b), 'positions ascend');
  t.equal(new Set(ids(got)).size, got.length, 'no position twice');
  for (const e of got) {
    t.equal(envelope(e).type, e.event, `event ${e.id}: the SSE event name is the envelope's type`);
    t.equal(envelope(e).payload.ticket_id, 'SSE1', 'only the ticket asked for');
  }
  t.equal(got[0]!.event, 'ticket.created', 'the ticket\'s first event comes first');
  await waitTicket(node, 'SSE1', 'completed');
  t.same(got.map((e) => envelope(e).id).sort(), (await eventRows('SSE1')).sort(), 'exactly the events the node logged for the ticket');
});

t.test('a reconnect with Last-Event-ID receives exactly the events it missed: no gap, no duplicate', async (t) => {
  const flags = await tempDir(t, 'flags-');
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const all = await stream(t, '/api/events/stream?ticket_id=SSE2');
  const first = await stream(t, '/api/events/stream?ticket_id=SSE2');
  await node.submit('ticket.create', {
    ticket_id: 'SSE2', title: 'resume', repository: repo.dir, base_branch: 'main',
    tasks: [task('A', 'true'), task('B', `while [ ! -f ${flags}/go ]; do sleep 0.05; done`, { depends_on: ['A'] }), task('C', 'true', { depends_on: ['B'] })],
  });
  await waitTask(node, 'SSE2', 'B', 'running');
  await first.until((es) => es.length >= 3, 'some events before the disconnect');
  first.close();
  await first.ended;
  const lastId = first.events.at(-1)!.id!;
  // Missed while away: B completes, C runs, the ticket ends.
  const { writeFile } = await import('node:fs/promises');
  await writeFile(`${flags}/go`, '');
  await all.until(completed('SSE2'), 'SSE2 ended (the reference client)');
  const again = await stream(t, '/api/events/stream?ticket_id=SSE2', { ...auth, 'last-event-id': lastId });
  await again.until(completed('SSE2'), 'SSE2 ended (the resumed client)');
  t.ok(again.events.length > 0, 'events were missed and read back');
  t.same([...ids(first.events), ...ids(again.events)], ids(all.events), 'before + after the reconnect = what an uninterrupted client got');

  // The query parameter resumes the same way (for clients that cannot set headers).
  const byQuery = await stream(t, `/api/events/stream?ticket_id=SSE2&last_event_id=${lastId}`);
  await byQuery.until(completed('SSE2'), 'SSE2 ended (resumed by query)');
  t.same(ids(byQuery.events), ids(again.events));
});

t.test('filters: types, and bad filters or positions are 400s with stable codes', async (t) => {
  const s = await stream(t, '/api/events/stream?types=ticket.created,ticket.completed');
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', { ticket_id: 'SSE3', title: 'types', repository: repo.dir, base_branch: 'main', tasks: [task('A', 'true')] });
  await s.until(completed('SSE3'), 'SSE3 ended');
  t.same(s.events.filter((e) => envelope(e).payload.ticket_id === 'SSE3').map((e) => e.event), ['ticket.created', 'ticket.completed']);
  t.ok(s.events.every((e) => ['ticket.created', 'ticket.completed'].includes(e.event)), 'no other type');

  for (const [path, headers, code, field] of [
    ['/api/events/stream?types=ticket.create', auth, 'unknown_event_type', 'query.types'],
    ['/api/events/stream?ticket_id=a%20b', auth, 'invalid_query', 'query.ticket_id'],
    ['/api/events/stream', { ...auth, 'last-event-id': 'abc' }, 'invalid_last_event_id', 'headers.last-event-id'],
    ['/api/events/stream?last_event_id=-1', auth, 'invalid_last_event_id', 'query.last_event_id'],
  ] as const) {
    const bad = await stream(t, path, headers);
    t.equal(bad.status, 400, path);
    t.same([bad.json?.error?.code, bad.json?.error?.field], [code, field], `${path}: ${code}`);
  }
});

t.test('401 without a token; a viewer token may stream', async (t) => {
  const none = await stream(t, '/api/events/stream', {});
  t.equal(none.status, 401);
  t.equal(none.json?.error?.code, 'unauthorized');
  const created = await fetch(`${node.httpUrl}/api/tokens`, {
    method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'sse-viewer', role: 'viewer' }),
  });
  const { token } = (await created.json()) as { token: string };
  const viewer = await stream(t, '/api/events/stream', { authorization: `Bearer ${token}` });
  t.equal(viewer.status, 200);
  viewer.close();
});

t.test('a client that does not read is disconnected; another keeps receiving every event', async (t) => {
  await waitFor('earlier streams closed', async () => (await metric('omoi_sse_clients')) === 0 || undefined);
  const slowBefore = await metric('omoi_sse_disconnects_total{reason="slow"}');
  const slow = await stream(t, '/api/events/stream?types=node.status');
  const reader = await stream(t, '/api/events/stream?types=node.status');
  slow.pause();
  await waitFor('both streams open', async () => (await metric('omoi_sse_clients')) === 2 || undefined);
  // 40 events of 256 KiB: far more than the socket buffers and the client's 64 KiB.
  const js = jetstream(nc);
  const big = 'x'.repeat(256 * 1024);
  const sent: string[] = [];
  for (let i = 0; i < 40; i++) {
    const env = makeEnvelope('node.status', { node_id: `pad-${i}-${big}`, status: 'padding', partitions: [] }, { source: 'test' });
    sent.push(env.id);
    await js.publish(Subjects.event('node.status'), encode(env), { msgID: env.id });
  }
  await reader.until((es) => es.filter((e) => envelope(e).payload.status === 'padding').length === 40, 'the reader got all 40', 60_000);
  t.same(reader.events.filter((e) => envelope(e).payload.status === 'padding').map((e) => envelope(e).id), sent, 'the reading client got every event, in order');
  await waitFor('the slow client disconnected', async () => (await metric('omoi_sse_clients')) === 1 || undefined, { timeoutMs: 30_000 });
  t.equal(await metric('omoi_sse_disconnects_total{reason="slow"}'), slowBefore + 1, 'counted as slow');
  slow.resume();
  await slow.ended;
  const got = slow.events.filter((e) => envelope(e).payload.status === 'padding').length;
  t.ok(got < 40, `the slow client's stream ended early (${got} of 40)`);
  reader.close();
});

t.test('the cap on open streams answers 503 too_many_streams', async (t) => {
  await waitFor('earlier streams closed', async () => (await metric('omoi_sse_clients')) === 0 || undefined);
  const open: SseStream[] = [];
  for (let i = 0; i < MAX_CLIENTS; i++) open.push(await stream(t, '/api/events/stream'));
  t.same(open.map((s) => s.status), Array(MAX_CLIENTS).fill(200));
  const over = await stream(t, '/api/events/stream');
  t.equal(over.status, 503);
  t.equal(over.json?.error?.code, 'too_many_streams');
  t.ok(over.headers['retry-after'], 'with Retry-After');
  open[0]!.close();
  await waitFor('a place freed', async () => (await metric('omoi_sse_clients')) === MAX_CLIENTS - 1 || undefined);
  const next = await stream(t, '/api/events/stream');
  t.equal(next.status, 200, 'a closed stream frees its place');
  for (const s of [...open, next]) s.close();
});

t.test('a position no longer stored gets a reset event, then the end', async (t) => {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(Streams.events);
  t.ok(state.last_seq > 10, 'events were stored');
  await jsm.streams.purge(Streams.events, { keep: 1 });
  const old = await stream(t, '/api/events/stream', { ...auth, 'last-event-id': '3' });
  await old.ended;
  t.same(old.events.map((e) => e.event), ['reset'], 'one reset event');
  t.match(JSON.parse(old.events[0]!.data).reason, /no longer stored/);
  const future = await stream(t, '/api/events/stream', { ...auth, 'last-event-id': String(state.last_seq + 1000) });
  await future.ended;
  t.same(future.events.map((e) => e.event), ['reset'], 'a position past the stream\'s end resets too');
});

t.test('a stopping node ends its open streams instead of waiting for them', async (t) => {
  const open = await stream(t, '/api/events/stream');
  t.equal(open.status, 200);
  const t0 = Date.now();
  await node.stop();
  await open.ended;
  t.ok(Date.now() - t0 < 15_000, `the node stopped in ${Date.now() - t0} ms with a stream open`);
});
