import t from 'tap';
import { withCluster, withClient, withNode } from '../harness/node.ts';
import { makeRepo, waitFor } from '../harness/index.ts';
import type { Envelope } from '../../src/protocol/index.ts';

let repoDir = '';
const ticket = (id: string) => ({
  ticket_id: id, title: 'demo', repository: repoDir, base_branch: 'main',
  tasks: [{ id: 'A', run: 'true' }],
});

t.test('a command published on NATS reaches its actor, is committed, and comes out as an event', async (t) => {
  repoDir = (await makeRepo(t, { 'README.md': 'hello\n' })).dir;
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const client = await withClient(t, cluster);
  const seen: Envelope[] = [];
  const sub = client.subscribe('omoi.evt.>', { callback: (_e, m) => { seen.push(m.json()); } });
  t.teardown(() => sub.unsubscribe());
  await client.flush();

  // As a user would with `nats pub omoi.in.ticket.create '<json>'`: a bare payload.
  client.publish('omoi.in.ticket.create', JSON.stringify(ticket('T1')));
  const created = await waitFor('ticket.created event', () => seen.find((e) => e.type === 'ticket.created'));
  t.same(created.payload, { ticket_id: 'T1', title: 'demo', tasks: ['A'], joins: [] });
  t.ok(created.causation_id, 'the event names its cause');

  const rows = await node.db.em().getConnection().execute(`select id from omoi_ticket where id = 'T1'`);
  t.same(rows, [{ id: 'T1' }], 'the ticket is committed in PostgreSQL');
});

t.test('the same message id twice is handled once', async (t) => {
  repoDir = (await makeRepo(t, { 'README.md': 'hello\n' })).dir;
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const first = await node.submit('ticket.create', ticket('T2'), { id: 'same-id' });
  await node.idle();
  // Bypass JetStream's duplicate window: publish the identical envelope under another Nats-Msg-Id.
  const env = (await node.db.em().getConnection().execute(`select message_id from omoi_processed_message where message_id = 'same-id'`));
  t.equal(env.length, 1);
  const { encode, makeEnvelope, Subjects, partitionOf } = await import('../../src/protocol/index.ts');
  const again = makeEnvelope('ticket.create', { ...ticket('T2'), ownership: 'strict' }, { source: 'test', id: first.id });
  await node.js.publish(Subjects.partition(partitionOf('ticket', 'T2', 4), 'ticket.create'), encode(again), { msgID: 'other-nats-id' });
  await waitFor('redelivery acked', async () => {
    const info = await (await import('@nats-io/jetstream')).jetstreamManager(node.nc).then((m) => m.streams.info('OMOI_PART'));
    return info.state.messages === 0;
  });
  await node.idle();
  const events = await node.db.em().getConnection().execute(`select count(*)::int as n from omoi_event where type = 'ticket.created' and ticket_id = 'T2'`);
  t.same(events, [{ n: 1 }], 'one ticket.created, not two');
  const dlq = await node.db.em().getConnection().execute(`select count(*)::int as n from omoi_dead_letter`);
  t.same(dlq, [{ n: 0 }], 'the duplicate was not treated as an error');
});
