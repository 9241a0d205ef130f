import t from 'tap';
import { jetstreamManager } from '@nats-io/jetstream';
import { withCluster, withClient, withNode } from '../harness/node.ts';
import { makeRepo, waitFor } from '../harness/index.ts';
import type { Envelope } from '../../src/protocol/index.ts';

let repoDir = '';
const ticket = (id: string, extra: Record<string, unknown> = {}) => ({
  ticket_id: id, title: 'demo', repository: repoDir, base_branch: 'main', tasks: [{ id: 'A', run: 'true' }], ...extra,
});

t.test('bad input is answered with an error event and a dead letter; the node keeps going', async (t) => {
  repoDir = (await makeRepo(t, { 'README.md': 'hello\n' })).dir;
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { maxDeliver: 2 });
  const rejectedTwice = () => node.db.em().getConnection().execute('select message_id, count(*)::int as n from omoi_dead_letter where message_id is not null group by 1 having count(*) > 1');
  const client = await withClient(t, cluster);
  const errors: Array<{ subject: string; env: Envelope<any> }> = [];
  const events: Envelope<any>[] = [];
  const s1 = client.subscribe('omoi.errors.>', { callback: (_e, m) => { errors.push({ subject: m.subject, env: m.json() }); } });
  const s2 = client.subscribe('omoi.evt.ticket.created', { callback: (_e, m) => { events.push(m.json()); } });
  const ticketRejections: Envelope<any>[] = [];
  const s3 = client.subscribe('omoi.evt.ticket.rejected', { callback: (_e, m) => { ticketRejections.push(m.json()); } });
  t.teardown(() => { s1.unsubscribe(); s2.unsubscribe(); s3.unsubscribe(); });
  await client.flush();
  const conn = node.db.em().getConnection();

  const cases: Array<{ name: string; subject: string; body: string; code: string; path?: string }> = [
    { name: 'malformed JSON', subject: 'omoi.in.ticket.create', body: '{"ticket_id": "T1", ', code: 'malformed_json' },
    { name: 'schema violation', subject: 'omoi.in.ticket.create', body: JSON.stringify({ ...ticket('T1'), tasks: [{ id: 'A' }] }), code: 'schema_violation', path: '/payload/tasks/0/run' },
    { name: 'unknown type', subject: 'omoi.in.ticket.explode', body: '{}', code: 'unknown_type' },
    { name: 'internal command from outside', subject: 'omoi.in.task.retry_due', body: JSON.stringify({ ticket_id: 'T1', task_id: 'A', attempt: 1 }), code: 'unknown_type' },
    { name: 'oversize', subject: 'omoi.in.ticket.create', body: JSON.stringify(ticket('T1', { title: 'x'.repeat(1_100_000) })), code: 'payload_too_large' },
    { name: 'a cycle', subject: 'omoi.in.ticket.create', body: JSON.stringify({ ...ticket('T9'), tasks: [{ id: 'A', run: 'x', depends_on: ['B'] }, { id: 'B', run: 'x', depends_on: ['A'] }] }), code: 'cycle' },
  ];
  for (const c of cases) {
    client.publish(c.subject, c.body);
    // Domain errors (a cycle) are found by the ticket's actor, on the partition subject.
    const err = await waitFor(`error event for ${c.name}`, () => errors.find((e) => e.env.payload.code === c.code && (e.env.payload.subject === c.subject || c.code === 'cycle')));
    t.equal(err.subject, `omoi.errors.${c.code}`, `${c.name}: published on omoi.errors.${c.code}`);
    t.ok(err.env.payload.reason.length > 0, `${c.name}: the reason names the problem (${err.env.payload.reason.slice(0, 80)})`);
    if (c.path) t.equal(err.env.payload.path, c.path, `${c.name}: the field is named`);
    const [row] = await conn.execute('select code, status, subject from omoi_dead_letter where id = ?', [err.env.payload.dead_letter_id]);
    t.same(row, { code: c.code, status: 'open', subject: err.env.payload.subject }, `${c.name}: a dead-letter row keeps it`);
  }
  t.match(errors.find((e) => e.env.payload.code === 'cycle')!.env.payload.reason, /A → B → A/, 'the cycle is named');
  // The ticket's own watchers hear of it too, on the ticket's subject (docs/protocol.md, Errors).
  const cycle = await waitFor('ticket.rejected for T9', () => ticketRejections.find((e) => e.payload.ticket_id === 'T9'));
  t.match(cycle.payload, { command: 'ticket.create', code: 'cycle', reason: /A → B → A/ }, 'ticket.rejected names the command, the code and the cycle');
  t.notOk(ticketRejections.some((e) => e.payload.command === 'ticket.explode'), 'an unknown type names no ticket');

  // A duplicate ticket id is an illegal request, answered once.
  client.publish('omoi.in.ticket.create', JSON.stringify(ticket('T1')));
  await waitFor('T1 created', () => events.find((e) => e.payload.ticket_id === 'T1'));
  client.publish('omoi.in.ticket.create', JSON.stringify(ticket('T1')));
  await waitFor('duplicate rejected', () => errors.find((e) => e.env.payload.code === 'duplicate_ticket'));
  await waitFor('duplicate answered on the ticket', () => ticketRejections.find((e) => e.payload.ticket_id === 'T1' && e.payload.code === 'duplicate_ticket'));

  // Poison: PostgreSQL refuses NUL in text, every delivery fails; after maxDeliver it is dead-lettered.
  client.publish('omoi.in.ticket.create', JSON.stringify(ticket('T-poison', { title: 'bad\u0000title' })));
  client.publish('omoi.in.ticket.create', JSON.stringify(ticket('T-after')));
  await waitFor('a good message behind the poison one is handled', () => events.find((e) => e.payload.ticket_id === 'T-after'));
  const poisoned = await waitFor('poison dead-lettered', () => errors.find((e) => e.env.payload.code === 'max_deliver_exceeded'), { timeoutMs: 30_000 });
  t.match(poisoned.env.payload.reason, /failed 2 deliveries/, 'dead-lettered after maxDeliver deliveries');

  // Nothing is left to be redelivered forever.
  const jsm = await jetstreamManager(client);
  await waitFor('streams drained', async () => {
    const [inStream, part] = await Promise.all([jsm.streams.info('OMOI_IN'), jsm.streams.info('OMOI_PART')]);
    return inStream.state.messages === 0 && part.state.messages === 0;
  }, { timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 6_000)); // longer than ack_wait: a forgotten ack would redeliver now
  t.same(await rejectedTwice(), [], 'no rejected message came back');
  const ready = await node.readiness();
  t.ok(ready.ready, 'the node is still ready');
  const [{ n }] = await conn.execute(`select count(*)::int as n from omoi_ticket`);
  t.equal(n, 2, 'only the two valid tickets exist');
});
