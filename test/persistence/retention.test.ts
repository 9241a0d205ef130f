import t from 'tap';
import { pino } from 'pino';
import { DEFAULTS } from '../../src/config/index.ts';
import { Metrics } from '../../src/metrics.ts';
import { openDatabase, RETENTION_RULES, RetentionSweep, type Database } from '../../src/persistence/index.ts';
import { waitFor, withPostgres, type TestContext } from '../harness/index.ts';
import { withRestartablePostgres } from '../harness/restartable-postgres.ts';

const log = pino({ level: 'silent' });
const HOUR = 3_600_000;
/** Retentions of an hour for every table: "old" rows below are two hours old, "young" ones a minute. */
const config = { retentionProcessedMs: HOUR, retentionEventsMs: HOUR, retentionDeadLettersMs: HOUR, retentionAuditMs: HOUR, retentionAlertsMs: HOUR, retentionWebhooksMs: HOUR, retentionMemoryMs: HOUR, retentionTaskLogsMs: HOUR };

async function database(t: TestContext, url?: string): Promise<Database> {
  const db = await openDatabase(url ?? (await withPostgres(t)).url, log);
  t.teardown(() => db.close());
  return db;
}

const sql = async <T = any>(db: Database, q: string, params: unknown[] = []) => (await db.em().getConnection().execute(q, params)) as T[];
const count = async (db: Database, table: string, where = 'true') => (await sql<{ n: number }>(db, `select count(*)::int as n from ${table} where ${where}`))[0]!.n;

/** `n` rows of each kind in every table of the sweep, `ago` old. */
async function seed(db: Database, tag: string, ago: string, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = `${tag}-${i}`;
    await sql(db, `insert into omoi_processed_message (message_id, partition, processed_at) values (?, 0, now() - ?::interval)`, [id, ago]);
    await sql(db, `insert into omoi_event (message_id, type, payload, time) values (?, 'ticket.created', '{}', now() - ?::interval)`, [id, ago]);
    await sql(db, `insert into omoi_audit (at, principal, channel, command, outcome, message_id) values (now() - ?::interval, 'admin', 'http', 'ticket.create', 'accepted', ?)`, [ago, id]);
    for (const status of ['open', 'retried', 'discarded']) {
      await sql(db, `insert into omoi_dead_letter (message_id, subject, code, reason, body, deliveries, status, created_at, resolved_at)
        values (?, 'omoi.in.x', 'schema_violation', 'r', '{}', 1, ?, now() - ?::interval, ${status === 'open' ? 'null' : 'now() - ?::interval'})`,
      status === 'open' ? [`${id}-${status}`, status, ago] : [`${id}-${status}`, status, ago, ago]);
    }
    // Alerts: an open one (raised) and a resolved one; deliveries: pending, delivered, failed.
    for (const status of ['raised', 'resolved']) {
      await sql(db, `insert into omoi_alert (id, fingerprint, kind, severity, status, title, fields, count, notification, first_raised_at, last_raised_at, last_notified_at, routes, dedupe_window_ms, resolved_at, updated_at)
        values (?, ?, 'dead_letter', 'warning', ?, 't', '{}', 1, 1, now() - ?::interval, now() - ?::interval, now() - ?::interval, '[]', 0, ${status === 'resolved' ? 'now() - ?::interval' : 'null'}, now() - ?::interval)`,
      status === 'resolved' ? [`al-${id}-${status}`, `f-${id}-${status}`, status, ago, ago, ago, ago, ago] : [`al-${id}-${status}`, `f-${id}-${status}`, status, ago, ago, ago, ago]);
    }
    for (const status of ['pending', 'delivered', 'failed']) {
      await sql(db, `insert into omoi_alert_delivery (alert_id, notification, route, route_type, status, attempts, next_attempt_at, payload, created_at, updated_at)
        values (?, 1, ?, 'webhook', ?, 1, now(), '{}', now() - ?::interval, now() - ?::interval)`, [`al-${id}`, status, status, ago, ago]);
    }
    // Webhooks: deliveries pending, delivered, failed; an active and a removed subscription; a GitHub delivery id and issue link.
    for (const status of ['pending', 'delivered', 'failed']) {
      await sql(db, `insert into omoi_webhook_delivery (subscription_id, event_id, event_type, status, attempts, next_attempt_at, payload, created_at, updated_at)
        values (?, ?, 'ticket.created', ?, 1, now(), '{}', now() - ?::interval, now() - ?::interval)`, [`wh-${id}`, status, status, ago, ago]);
    }
    for (const active of [true, false]) {
      await sql(db, `insert into omoi_webhook_subscription (id, url, secret, events, ticket_id, active, created_by, created_at, removed_at)
        values (?, 'http://127.0.0.1:9/', 'secret-0123456789ab', '["*"]', null, ?, 'admin', now() - ?::interval, ${active ? 'null' : 'now() - ?::interval'})`,
      active ? [`wh-${id}-on`, true, ago] : [`wh-${id}-off`, false, ago, ago]);
    }
    await sql(db, `insert into omoi_github_delivery (delivery_id, event, action, outcome, ticket_id, received_at) values (?, 'issues', 'labeled', 'applied', ?, now() - ?::interval)`, [id, `gh-${id}`, ago]);
    await sql(db, `insert into omoi_github_issue_ticket (ticket_id, repository, issue, created_at) values (?, 'acme/app', 1, now() - ?::interval)`, [`gh-${id}`, ago]);
    await sql(db, `insert into omoi_memory (event_id, repository, kind, ticket_id, task_id, join_id, title, body, files, terms, commit, created_at)
      values (?, 'acme/app', 'task_result', 'T1', 'A', null, 'make a', '{}', '[]', '', null, now() - ?::interval)`, [`mem-${id}`, ago]);
    await sql(db, `insert into omoi_task_log (ticket_id, task_id, attempt, node_id, size, text, truncated, created_at) values ('T1', ?, 1, 'n1', 3, 'hi\n', false, now() - ?::interval)`, [id, ago]);
    // Ticket pushes: rounds pending, delivered, failed.
    for (const [round, status] of ['pending', 'delivered', 'failed'].entries()) {
      await sql(db, `insert into omoi_ticket_push (ticket_id, round, head, status, attempts, next_attempt_at, payload, created_at, updated_at)
        values (?, ?, 'abc', ?, 1, now(), '{}', now() - ?::interval, now() - ?::interval)`, [`push-${id}`, round + 1, status, ago, ago]);
    }
  }
}

t.test('the sweep deletes rows past their retention and keeps young rows and open dead letters', async (t) => {
  const db = await database(t);
  await seed(db, 'old', '2 hours', 3);
  await seed(db, 'young', '1 minute', 2);
  // Ended holdings of a lease go after the audit retention; the one still held stays, however old.
  await sql(db, `insert into omoi_lease_history (partition, epoch, node_id, held_from, held_to) values
    (0, 1, 'a', now() - interval '5 hours', now() - interval '4 hours'), (0, 2, 'b', now() - interval '4 hours', now() - interval '1 minute'), (1, 1, 'a', now() - interval '5 hours', null)`);
  // A processed id whose message is still in the outbox may be published again: it stays.
  await sql(db, `insert into omoi_outbox (message_id, subject, body, partition, created_at) values ('old-0', 'omoi.part.0.x', '{}', 0, now())`);

  const metrics = new Metrics();
  const sweep = new RetentionSweep({ db, log, config, deleted: (table, n) => metrics.retentionDeleted.inc({ table }, n), swept: (o) => metrics.retentionSweeps.inc({ outcome: o }) }, { intervalMs: HOUR });
  const result = await sweep.sweep();
  t.same(result, { outcome: 'done', deleted: { omoi_processed_message: 2, omoi_event: 3, omoi_dead_letter: 6, omoi_audit: 3, omoi_lease_history: 1, omoi_alert: 3, omoi_alert_delivery: 6, omoi_webhook_delivery: 6, omoi_webhook_subscription: 3, omoi_github_delivery: 3, omoi_github_issue_ticket: 3, omoi_memory: 3, omoi_task_log: 3, omoi_ticket_push: 6 } }, 'old rows deleted, per table');

  t.same((await sql(db, 'select message_id from omoi_processed_message order by 1')).map((r) => r.message_id), ['old-0', 'young-0', 'young-1'], 'young processed ids kept, and the one still in the outbox');
  t.equal(await count(db, 'omoi_event'), 2, 'young events kept');
  t.equal(await count(db, 'omoi_audit'), 2, 'young audit rows kept');
  t.equal(await count(db, 'omoi_dead_letter', `status = 'open'`), 5, 'every open dead letter kept, old or young');
  t.equal(await count(db, 'omoi_dead_letter', `status <> 'open'`), 4, 'young decided dead letters kept');
  t.same((await sql(db, 'select partition, epoch from omoi_lease_history order by 1, 2')), [{ partition: 0, epoch: 2 }, { partition: 1, epoch: 1 }], 'a young and a still-held holding kept');
  t.equal(await count(db, 'omoi_alert', `status = 'raised'`), 5, 'every open alert kept, old or young');
  t.equal(await count(db, 'omoi_alert', `status = 'resolved'`), 2, 'young resolved alerts kept');
  t.equal(await count(db, 'omoi_alert_delivery', `status = 'pending'`), 5, 'every pending delivery kept, old or young');
  t.equal(await count(db, 'omoi_alert_delivery', `status <> 'pending'`), 4, 'young finished deliveries kept');
  t.equal(await count(db, 'omoi_webhook_delivery', `status = 'pending'`), 5, 'every pending webhook delivery kept');
  t.equal(await count(db, 'omoi_webhook_delivery', `status <> 'pending'`), 4, 'young finished webhook deliveries kept');
  t.equal(await count(db, 'omoi_webhook_subscription', 'active'), 5, 'every active subscription kept, old or young');
  t.equal(await count(db, 'omoi_webhook_subscription', 'not active'), 2, 'young removed subscriptions kept');
  t.equal(await count(db, 'omoi_github_delivery'), 2, 'young GitHub delivery ids kept');
  t.equal(await count(db, 'omoi_ticket_push', `status = 'pending'`), 5, 'every pending ticket push kept');
  t.equal(await count(db, 'omoi_ticket_push', `status <> 'pending'`), 4, 'young finished ticket pushes kept');

  const text = await metrics.registry.metrics();
  t.match(text, /omoi_retention_deleted_total\{table="omoi_dead_letter"\} 6/, 'deletions counted by table');
  t.match(text, /omoi_retention_sweeps_total\{outcome="done"\} 1/);
  t.same(await sweep.sweep(), { outcome: 'done', deleted: { omoi_processed_message: 0, omoi_event: 0, omoi_dead_letter: 0, omoi_audit: 0, omoi_lease_history: 0, omoi_alert: 0, omoi_alert_delivery: 0, omoi_webhook_delivery: 0, omoi_webhook_subscription: 0, omoi_github_delivery: 0, omoi_github_issue_ticket: 0, omoi_memory: 0, omoi_task_log: 0, omoi_ticket_push: 0 } }, 'a second sweep finds nothing');
});

t.test('batches are bounded: a sweep deletes at most batch × maxBatches rows of a table, the next one goes on', async (t) => {
  const db = await database(t);
  await sql(db, `insert into omoi_event (message_id, type, payload, time) select 'e' || g, 'ticket.created', '{}', now() - interval '2 hours' from generate_series(1, 25) g`);
  const sweep = new RetentionSweep({ db, log, config }, { intervalMs: HOUR, batch: 4, maxBatches: 3, pauseMs: 0, rules: RETENTION_RULES.filter((r) => r.table === 'omoi_event') });
  t.same(await sweep.sweep(), { outcome: 'done', deleted: { omoi_event: 12 } }, 'three statements of four rows');
  t.equal(await count(db, 'omoi_event'), 13);
  t.same(await sweep.sweep(), { outcome: 'done', deleted: { omoi_event: 12 } });
  t.same(await sweep.sweep(), { outcome: 'done', deleted: { omoi_event: 1 } });
  t.equal(await count(db, 'omoi_event'), 0);
});

t.test('one node at a time: while another node holds the sweep lock, this one leaves the sweep to it', async (t) => {
  const db = await database(t);
  await seed(db, 'old', '2 hours');
  const conn = db.em().getConnection();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let locked!: () => void;
  const isLocked = new Promise<void>((r) => (locked = r));
  const holder = conn.transactional(async (trx) => {
    await conn.execute('select pg_advisory_xact_lock(?)', [0x6f6d7274], 'all', trx);
    locked();
    await held;
  });
  await isLocked;
  const sweep = new RetentionSweep({ db, log, config }, { intervalMs: HOUR });
  t.same(await sweep.sweep(), { outcome: 'busy' }, 'busy: nothing deleted');
  t.equal(await count(db, 'omoi_event'), 1);
  release();
  await holder;
  t.equal((await sweep.sweep()).outcome, 'done', 'the lock free again: this node sweeps');
  t.equal(await count(db, 'omoi_event'), 0);
});

t.test('a database outage fails a sweep without throwing; the timer goes on and the next sweep deletes', async (t) => {
  const pg = await withRestartablePostgres(t);
  const db = await database(t, pg.url);
  await seed(db, 'old', '2 hours');
  const outcomes: string[] = [];
  const sweep = new RetentionSweep({ db, log, config, swept: (o) => outcomes.push(o) }, { intervalMs: 200 });
  const restarted = pg.restart(2_500);
  await new Promise((r) => setTimeout(r, 300)); // the server is down now
  sweep.start();
  t.teardown(() => sweep.stop());
  await waitFor('a failed sweep', () => outcomes.includes('failed'), { timeoutMs: 20_000 });
  await restarted;
  await waitFor('a sweep that deleted the old rows', async () => outcomes.at(-1) === 'done' && (await count(db, 'omoi_event')) === 0, { timeoutMs: 30_000 });
  await sweep.stop();
  const after = outcomes.length;
  await new Promise((r) => setTimeout(r, 500));
  t.equal(outcomes.length, after, 'stopped: no more sweeps');
  t.pass(`outcomes: ${outcomes.join(', ')}`);
});

t.test('the default retentions are sane: processed ids a day, events a week, dead letters a month, audit a quarter', async (t) => {
  t.equal(DEFAULTS.retentionProcessedMs, 24 * HOUR);
  t.equal(DEFAULTS.retentionEventsMs, 7 * 24 * HOUR);
  t.equal(DEFAULTS.retentionDeadLettersMs, 30 * 24 * HOUR);
  t.equal(DEFAULTS.retentionAuditMs, 90 * 24 * HOUR);
});
