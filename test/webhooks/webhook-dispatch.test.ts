import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { pino } from 'pino';
import t from 'tap';
import { Breakers } from '../../src/breakers/breakers.ts';
import { connectNats, type NatsConnection } from '../../src/messaging/connection.ts';
import { ensureStreams } from '../../src/messaging/streams.ts';
import { Metrics } from '../../src/metrics.ts';
import { openDatabase, type Database } from '../../src/persistence/index.ts';
import { encode, makeEnvelope, Subjects } from '../../src/protocol/index.ts';
import { OutgoingWebhooks } from '../../src/webhooks/outgoing-webhooks.ts';
import { SubscriptionStore } from '../../src/webhooks/subscription-store.ts';
import { WebhookDeliveryStore } from '../../src/webhooks/webhook-delivery-store.ts';
import { waitFor, withNats, withPostgres } from '../harness/index.ts';
import { webhookReceiver } from '../alerts/receivers.ts';

/**
 * Outgoing webhooks against a real nats-server, PostgreSQL and HTTP receivers, with short
 * timings: a dead or slow subscriber does not hold back a healthy one, a dead one's breaker
 * opens (per subscription), a removed subscription's pending deliveries fail unattempted, a
 * ticket filter selects, and an undecodable event does not stall the consumer.
 */
const log = pino({ level: process.env.OMOI_TEST_LOG ?? 'silent' });
let db: Database;
let nc: NatsConnection;
let js: JetStreamClient;

t.before(async () => {
  const [nats, pg] = await Promise.all([withNats(t), withPostgres(t)]);
  db = await openDatabase(pg.url, log);
  t.teardown(() => db.close());
  nc = await connectNats(nats.url, 'webhook-test', log);
  t.teardown(() => nc.close());
  await ensureStreams(await jetstreamManager(nc), { partitions: 1, maxDeliver: 5, ackWaitMs: 5_000 });
  js = jetstream(nc);
});

async function publish(type: string, payload: Record<string, unknown>): Promise<string> {
  const env = makeEnvelope(type, payload, { source: 'test' });
  await js.publish(Subjects.event(type), encode(env), { msgID: env.id });
  return env.id;
}

t.test('a dead and a slow subscriber hold back neither the consumer nor a healthy subscriber; removal and filters', async (t) => {
  const healthy = await webhookReceiver(t, { secret: 'healthy-secret-0123456789', timestamped: true });
  const slow = await webhookReceiver(t, { secret: 'slow-secret-0123456789ab', timestamped: true, delayMs: 6_000 });
  const dead = await webhookReceiver(t);
  await dead.close();
  const onlyT1 = await webhookReceiver(t, { secret: 'ticket-secret-0123456789', timestamped: true });

  const subscriptions = new SubscriptionStore(db);
  const deliveries = new WebhookDeliveryStore(db);
  const h = await subscriptions.create({ url: healthy.url, events: ['ticket.*'], secret: 'healthy-secret-0123456789' }, 'test');
  const s = await subscriptions.create({ url: slow.url, events: ['*'], secret: 'slow-secret-0123456789ab' }, 'test');
  const d = await subscriptions.create({ url: dead.url, events: ['ticket.created'] }, 'test');
  const one = await subscriptions.create({ url: onlyT1.url, events: ['ticket.*'], ticket_id: 'T1', secret: 'ticket-secret-0123456789' }, 'test');

  const breakers = new Breakers({ threshold: 2, halfOpenAfterMs: 60_000 });
  const metrics = new Metrics();
  const webhooks = await OutgoingWebhooks.start({
    js, jsm: await jetstreamManager(nc), db, breakers, log, metrics, config: { ackWaitMs: 5_000, webhookDeliveryMaxAttempts: 10 },
    // Four slots, long timeouts: the slow subscriber's three deliveries hold three slots for 4 s; the others use the fourth.
    tuning: { timeoutMs: 4_000, batch: 4, pollMs: 50, backoff: { baseMs: 50, maxMs: 100 }, circuitRetryMs: 200 },
  });
  t.teardown(() => webhooks.stop());

  // An undecodable event first: it must not stall what follows.
  await js.publish(Subjects.event('ticket.created'), new TextEncoder().encode('{not json'));
  const ids: string[] = [];
  const published = Date.now();
  for (const ticket of ['T1', 'T2', 'T3']) ids.push(await publish('ticket.created', { ticket_id: ticket, title: ticket, tasks: ['A'], joins: [] }));

  await waitFor('the healthy subscriber has all three', async () => healthy.received.length >= 3, { timeoutMs: 10_000 });
  t.ok(Date.now() - published < 3_000, `the healthy subscriber did not wait for the slow one's 4 s attempts (${Date.now() - published} ms)`);
  // Deliveries are concurrent: no order is promised (receivers order by the envelope's time).
  t.same(healthy.received.map((r) => r.json.id).sort(), [...ids].sort(), 'each once');
  t.ok(healthy.received.every((r) => r.signatureValid), 'all signed');
  t.ok(slow.received.length >= 1, 'the slow subscriber was called meanwhile');

  await waitFor('the dead subscriber\'s breaker open', async () => breakers.states().some((b) => b.key === `subscription:${d.id}` && b.state === 'open'));
  t.notOk(breakers.states().some((b) => b.key === `subscription:${h.id}` && b.state !== 'closed'), 'the healthy subscriber\'s breaker is closed: one per subscription');
  const deadRows = await waitFor('a dead delivery deferred', async () => {
    const rows = await deliveries.list(d.id);
    return rows.length === 3 && rows.some((r) => r.last_error_code === 'circuit_open') && rows;
  });
  t.ok(deadRows.every((r) => r.status === 'pending'), 'still pending, to be tried again');
  const slowRows = await waitFor('the slow one timed out', async () => {
    const rows = await deliveries.list(s.id);
    return rows.some((r) => r.last_error_code === 'route_timeout' || r.last_error_code === 'circuit_open') && rows;
  });
  t.equal(slowRows.length, 3);

  await waitFor('the T1 subscriber has its one event', async () => onlyT1.received.length === 1);
  t.equal(onlyT1.received[0]!.json.payload.ticket_id, 'T1', 'a ticket filter selects that ticket\'s events only');
  t.equal((await deliveries.list(one.id)).length, 1);

  // Removing the dead subscription fails its pending deliveries without calling it.
  const attemptsBefore = new Map(deadRows.map((r) => [r.id, r.attempts]));
  await subscriptions.remove(d.id);
  const failed = await waitFor('the removed subscription\'s deliveries failed', async () => {
    const rows = await deliveries.list(d.id);
    return rows.every((r) => r.status === 'failed') && rows;
  });
  t.ok(failed.every((r) => r.last_error_code === 'subscription_inactive'), 'as subscription_inactive');
  t.ok(failed.every((r) => r.attempts === attemptsBefore.get(r.id) || r.attempts === attemptsBefore.get(r.id)! + 1), 'no attempt counted for the failure itself');
  t.equal(dead.received.length, 0);
  t.match(await metrics.registry.metrics(), /omoi_webhook_deliveries_total\{outcome="deferred"\} [1-9]/);
});
