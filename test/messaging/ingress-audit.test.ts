import { headers } from '@nats-io/transport-node';
import { pino } from 'pino';
import t from 'tap';
import { CHANNEL_HEADER, PostgresAuditLog } from '../../src/audit/index.ts';
import { runOmoi } from '../cli/run-omoi.ts';
import { waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';

t.test('NATS ingress: one audit row per routed or rejected command, channel nats or cli (omoi pub), principal nats-client', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const client = await withClient(t, cluster);
  const conn = node.db.em().getConnection();
  const rowsFor = (id: string) => conn.execute(`select principal, role, channel, command, target, outcome, message_id from omoi_audit where message_id = ?`, [id]);

  const h = headers();
  h.set('Nats-Msg-Id', 'cancel-from-nats');
  client.publish('omoi.in.ticket.cancel', JSON.stringify({ ticket_id: 'T-audit' }), { headers: h });
  const routed = await waitFor('the routed command audited', async () => ((await rowsFor('cancel-from-nats')) as unknown[]).length > 0 && rowsFor('cancel-from-nats'));
  t.same(routed, [{ principal: 'nats-client', role: null, channel: 'nats', command: 'ticket.cancel', target: 'T-audit', outcome: 'accepted', message_id: 'cancel-from-nats' }]);

  const bad = headers();
  bad.set('Nats-Msg-Id', 'bad-from-nats');
  client.publish('omoi.in.ticket.cancel', '{"ticket_id": ', { headers: bad });
  const rejected = await waitFor('the rejected command audited', async () => ((await rowsFor('bad-from-nats')) as unknown[]).length > 0 && rowsFor('bad-from-nats'));
  t.same(rejected, [{ principal: 'nats-client', role: null, channel: 'nats', command: 'ticket.cancel', target: null, outcome: 'refused:malformed_json', message_id: 'bad-from-nats' }]);

  const pub = await runOmoi(['pub', 'omoi.in.ticket.cancel', JSON.stringify({ ticket_id: 'T-cli' }), '--id', 'cancel-from-cli', '--nats-url', cluster.nats.url]);
  t.equal(pub.code, 0, pub.stderr);
  const fromCli = await waitFor('the omoi pub command audited', async () => ((await rowsFor('cancel-from-cli')) as unknown[]).length > 0 && rowsFor('cancel-from-cli'));
  t.match(fromCli, [{ channel: 'cli', command: 'ticket.cancel', target: 'T-cli', outcome: 'accepted' }], 'omoi pub marks its commands Omoi-Channel: cli');
  t.equal(CHANNEL_HEADER, 'Omoi-Channel');

  // A redelivery (same channel and message id) adds no row.
  const audit = new PostgresAuditLog({ db: node.db, log: pino({ level: 'silent' }) });
  await audit.record({ principal: 'nats-client', role: null, channel: 'nats', command: 'ticket.cancel', target: 'T-audit', outcome: 'accepted', message_id: 'cancel-from-nats' });
  t.equal(((await rowsFor('cancel-from-nats')) as unknown[]).length, 1, 'recorded once');
});
