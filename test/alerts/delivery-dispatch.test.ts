import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import t from 'tap';
import type { AlertRoute } from '../../src/alerts/alerts-config.ts';
import { AlertDelivery, DeliveryStore, type DeliveryView } from '../../src/alerts/delivery/index.ts';
import { Breakers, type BreakerChange } from '../../src/breakers/breakers.ts';
import { connectNats, type NatsConnection } from '../../src/messaging/connection.ts';
import { ensureStreams } from '../../src/messaging/streams.ts';
import { Metrics } from '../../src/metrics.ts';
import { openDatabase, type Database } from '../../src/persistence/index.ts';
import { encode, makeEnvelope, parseJson, Subjects, validatePayload } from '../../src/protocol/index.ts';
import { waitFor, withNats, withPostgres, type TestContext } from '../harness/index.ts';
import { notification, webhookReceiver } from './receivers.ts';

/**
 * The delivery pipeline against a real nats-server and PostgreSQL: `alert.raised` events
 * published on the events stream, the shared durable recording them, the dispatcher delivering
 * to real HTTP receivers behind real breakers (short timings so the test does not sleep long).
 */
const log = pino({ level: process.env.OMOI_TEST_LOG ?? 'silent' });
let db: Database;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let store: DeliveryStore;

t.before(async () => {
  const [nats, pg] = await Promise.all([withNats(t), withPostgres(t)]);
  db = await openDatabase(pg.url, log);
  t.teardown(() => db.close());
  nc = await connectNats(nats.url, 'delivery-test', log);
  t.teardown(() => nc.close());
  jsm = await jetstreamManager(nc);
  await ensureStreams(jsm, { partitions: 1, maxDeliver: 5, ackWaitMs: 5_000 });
  js = jetstream(nc);
  store = new DeliveryStore(db);
});

/** Publishes an `alert.raised` event as the alerts actor would (a fresh envelope id each time). */
async function raise(payload: Record<string, unknown>): Promise<void> {
  const env = makeEnvelope('alert.raised', validatePayload('alert.raised', payload), { source: 'test' });
  await js.publish(Subjects.event('alert.raised'), encode(env), { msgID: env.id });
}

interface Started { metrics: Metrics; breakerChanges: BreakerChange[] }

/** Alert delivery on this "node", with its own breakers (2 failures open them, half-open after 300 ms) publishing `breaker.state`. */
async function startDelivery(t: TestContext, routes: Record<string, AlertRoute>, opts: { maxAttempts?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Started> {
  const metrics = new Metrics();
  const breakerChanges: BreakerChange[] = [];
  const breakers = new Breakers({
    threshold: 2, halfOpenAfterMs: 300,
    onChange: (c) => {
      const env = makeEnvelope('breaker.state', validatePayload('breaker.state', { node_id: 'test-node', ...c }), { source: 'test-node' });
      void js.publish(Subjects.event('breaker.state'), encode(env), { msgID: env.id });
    },
  });
  const sub = nc.subscribe(Subjects.event('breaker.state'), {
    callback: (_err, m) => { breakerChanges.push((parseJson(m.data) as { payload: BreakerChange }).payload); },
  });
  const delivery = await AlertDelivery.start({
    js, jsm, db, breakers, log, metrics,
    config: { alerts: { routes }, ackWaitMs: 5_000, alertDeliveryMaxAttempts: opts.maxAttempts ?? 8 },
    dashboardUrl: () => 'http://omoi.test:7070',
    tuning: { pollMs: 50, timeoutMs: 1_000, backoff: { baseMs: 50, maxMs: 200 }, circuitRetryMs: 100, env: opts.env },
  });
  t.teardown(async () => {
    await delivery.stop();
    sub.unsubscribe();
  });
  return { metrics, breakerChanges };
}

const rowsOf = (alertId: string) => store.list({ alertId });
const settled = (alertId: string, count = 1) => waitFor(`${alertId}'s deliveries settled`, async () => {
  const rows = await rowsOf(alertId);
  return rows.length === count && rows.every((r) => r.status !== 'pending') && rows;
}, { timeoutMs: 20_000 });

async function counted(metrics: Metrics, routeType: string, outcome: string): Promise<number> {
  const values = (await metrics.alertDeliveries.get()).values;
  return values.find((v) => v.labels.route_type === routeType && v.labels.outcome === outcome)?.value ?? 0;
}

t.test('a 500 then a 200: delivered on the retry, same delivery id, signed both times', async (t) => {
  const hook = await webhookReceiver(t, { secret: 'hook-key', answer: (n) => (n === 1 ? 500 : 200) });
  const { metrics } = await startDelivery(t, { 'ops-webhook': { type: 'webhook', url: hook.url, secret: { env: 'OMOI_TEST_HOOK_KEY' } } }, { env: { OMOI_TEST_HOOK_KEY: 'hook-key' } });
  await raise(notification({ alert_id: 'A-retry' }));
  const [row] = await settled('A-retry');
  t.match(row, { status: 'delivered', route: 'ops-webhook', route_type: 'webhook', attempts: 2, last_http_status: 200, last_answer: 'HTTP 200 ok', last_error: null, next_attempt_at: null });
  t.ok(row!.delivered_at, 'delivered_at is set');
  t.equal(hook.received.length, 2, 'one failed call, one that worked');
  t.same(hook.received.map((r) => r.signatureValid), [true, true], 'the receiver verified both signatures');
  t.same(hook.received.map((r) => r.headers['omoi-delivery']), [String(row!.id), String(row!.id)], 'a retry carries the same Omoi-Delivery');
  t.equal(hook.received[1]!.json.alert_id, 'A-retry');
  t.equal(await counted(metrics, 'webhook', 'retry'), 1);
  t.equal(await counted(metrics, 'webhook', 'delivered'), 1);
});

t.test('an alert.raised published twice (same alert and notification) is delivered once; its next notification again', async (t) => {
  const hook = await webhookReceiver(t);
  await startDelivery(t, { 'ops-webhook': { type: 'webhook', url: hook.url } });
  await raise(notification({ alert_id: 'A-dup' }));
  await raise(notification({ alert_id: 'A-dup', count: 3 })); // a redelivery, or a second publish of the same notification
  await raise(notification({ alert_id: 'A-dup', notification: 2, count: 7 }));
  await raise(notification({ alert_id: 'A-after-dup' })); // recorded after the three above: the consumer handles them in order
  await settled('A-after-dup');
  const rows = await settled('A-dup', 2);
  t.same(rows.map((r) => [r.notification, r.status, r.attempts]).sort(), [[1, 'delivered', 1], [2, 'delivered', 1]]);
  const got = hook.received.filter((r) => r.json.alert_id === 'A-dup').map((r) => [r.json.notification, r.json.count]).sort();
  t.same(got, [[1, 1], [2, 7]], 'notification 1 once (the first copy), notification 2 once');
});

t.test('refusals fail at once; retryable failures fail after the last allowed attempt', async (t) => {
  const gone = await webhookReceiver(t, { answer: () => 404 });
  const broken = await webhookReceiver(t, { answer: () => 503 });
  await startDelivery(t, {
    gone: { type: 'webhook', url: gone.url },
    broken: { type: 'webhook', url: broken.url },
    unsigned: { type: 'webhook', url: gone.url, secret: { env: 'OMOI_TEST_NOT_SET' } },
  }, { maxAttempts: 3, env: {} });
  await raise(notification({ alert_id: 'A-fail', routes: ['gone', 'broken', 'unsigned', 'nowhere'] }));
  const rows = Object.fromEntries((await settled('A-fail', 4)).map((r) => [r.route, r]));
  t.match(rows.gone, { status: 'failed', attempts: 1, last_http_status: 404, last_error_code: 'route_refused' }, 'a 404 is not retried');
  t.equal(gone.received.length, 1);
  t.match(rows.broken, { status: 'failed', attempts: 3, last_http_status: 503, last_error_code: 'route_unavailable' }, 'three 503s, then failed');
  t.equal(broken.received.length, 3);
  t.match(rows.unsigned, { status: 'failed', attempts: 1, last_error_code: 'secret_missing' });
  t.match(rows.unsigned!.last_error, /route unsigned: secret is read from the environment variable OMOI_TEST_NOT_SET, which is not set/);
  t.match(rows.nowhere, { status: 'failed', attempts: 0, route_type: 'unknown', last_error_code: 'route_unknown', last_error: 'no route named "nowhere" in alerts.routes' });
  const failed = await store.list({ status: 'failed' });
  t.ok(['gone', 'broken', 'unsigned', 'nowhere'].every((r) => failed.some((f) => f.alert_id === 'A-fail' && f.route === r)), 'listed by status=failed');
});

t.test('an event that does not decode is dropped without stalling the consumer', async (t) => {
  const hook = await webhookReceiver(t);
  await startDelivery(t, { 'ops-webhook': { type: 'webhook', url: hook.url } });
  await js.publish(Subjects.event('alert.raised'), Buffer.from('{not json'));
  await js.publish(Subjects.event('alert.raised'), encode(makeEnvelope('alert.raised', { alert_id: 'A-bad' }, { source: 'test' })));
  await raise(notification({ alert_id: 'A-good' }));
  const [row] = await settled('A-good');
  t.equal(row!.status, 'delivered', 'the valid event after two bad ones was delivered');
  t.same(await rowsOf('A-bad'), [], 'the invalid payload made no row');
  const info = await jsm.consumers.info('OMOI_EVT', 'alert-delivery');
  t.equal(info.num_ack_pending, 0, 'nothing left unacknowledged');
});

t.test('a route whose receiver is down opens its breaker: deliveries deferred (circuit_open, no attempt), then delivered after it closes', async (t) => {
  let down = true;
  const hook = await webhookReceiver(t, { answer: () => (down ? 503 : 200) });
  const { metrics, breakerChanges } = await startDelivery(t, { flaky: { type: 'webhook', url: hook.url } });
  const ids = ['A-cb-1', 'A-cb-2', 'A-cb-3', 'A-cb-4'];
  for (const id of ids) await raise(notification({ alert_id: id, routes: ['flaky'] }));

  const deferred = await waitFor('a delivery deferred by the open breaker', async () => {
    const rows = (await Promise.all(ids.map(rowsOf))).flat();
    return rows.find((r) => r.last_error_code === 'circuit_open');
  }, { timeoutMs: 20_000 });
  t.equal(deferred.status, 'pending', 'deferred, not failed');
  t.match(deferred.last_error, /webhook flaky is failing \(answered HTTP 503.*\): not called until the breaker half-opens/);
  await waitFor('breaker.state open published', () => breakerChanges.some((c) => c.breaker === 'webhook' && c.key === 'flaky' && c.state === 'open'));
  const attemptsWhileOpen = (await Promise.all(ids.map(rowsOf))).flat().reduce((n, r) => n + r.attempts, 0);
  t.equal(attemptsWhileOpen, hook.received.length, 'attempts count calls made only: a deferral is not an attempt');
  t.ok(hook.received.length < 20, `the dead route was not hammered (${hook.received.length} calls)`);

  down = false;
  const rows: DeliveryView[] = [];
  for (const id of ids) rows.push(...await settled(id));
  t.ok(rows.every((r) => r.status === 'delivered'), 'every delivery went through once the receiver was back');
  await waitFor('breaker.state closed published', () => breakerChanges.some((c) => c.key === 'flaky' && c.state === 'closed'));
  const states = breakerChanges.filter((c) => c.key === 'flaky').map((c) => c.state);
  t.equal(states[0], 'open');
  t.ok(states.indexOf('half_open') > 0 && states.lastIndexOf('closed') > states.indexOf('half_open'), `open → half_open → closed (${states.join(' → ')})`);
  t.equal(rows.reduce((n, r) => n + r.attempts, 0), hook.received.length, 'every call made is one attempt on one delivery');
  t.ok(await counted(metrics, 'webhook', 'deferred') > 0, 'deferrals are counted');
  t.equal(await counted(metrics, 'webhook', 'delivered'), 4);
});

t.test('two nodes share the durable and the dispatch: each of 20 notifications is delivered exactly once', async (t) => {
  const hook = await webhookReceiver(t, { delayMs: 20 });
  const routes: Record<string, AlertRoute> = { shared: { type: 'webhook', url: hook.url } };
  const [a, b] = [await startDelivery(t, routes), await startDelivery(t, routes)];
  const ids = Array.from({ length: 20 }, (_, i) => `A-shared-${i}`);
  await Promise.all(ids.map((id) => raise(notification({ alert_id: id, routes: ['shared'] }))));
  for (const id of ids) await settled(id);
  const got = hook.received.map((r) => r.json.alert_id).sort();
  t.same(got, [...ids].sort(), 'every notification arrived once, none twice');
  const delivered = (await counted(a.metrics, 'webhook', 'delivered')) + (await counted(b.metrics, 'webhook', 'delivered'));
  t.equal(delivered, 20, `the two dispatchers delivered 20 between them (${await counted(a.metrics, 'webhook', 'delivered')} and ${await counted(b.metrics, 'webhook', 'delivered')})`);
});
