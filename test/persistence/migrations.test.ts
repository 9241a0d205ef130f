import t from 'tap';
import { pino } from 'pino';
import { openDatabase } from '../../src/persistence/index.ts';
import { MIGRATIONS } from '../../src/persistence/migrations/index.ts';
import { withPostgres, type TestContext } from '../harness/index.ts';

/** A fresh database with every migration applied, its migrator, and a raw SQL helper; closed in teardown. */
async function migratedDatabase(t: TestContext) {
  const pg = await withPostgres(t);
  const db = await openDatabase(pg.url, pino({ level: 'silent' }));
  t.teardown(() => db.close());
  const sql = async <T = any>(q: string, params: unknown[] = []) => (await db.em().getConnection().execute(q, params)) as T[];
  return { db, migrator: db.orm.getMigrator(), sql };
}

const NAMES = MIGRATIONS.map((m) => m.name);
/** What `up()` applies after `down({ to: name })`: that migration and the later ones, oldest first. */
const upFrom = (name: string) => NAMES.slice(NAMES.indexOf(name));
/** What `down({ to: name })` reverts: that migration and the later ones, newest first. */
const downTo = (name: string) => upFrom(name).reverse();

t.test('migrations create exactly the schema the entities describe, and are idempotent', async (t) => {
  const pg = await withPostgres(t);
  const log = pino({ level: 'silent' });
  const db = await openDatabase(pg.url, log);
  const drift = await db.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
  t.equal(drift.trim(), '', `no difference between entities and migrated schema${drift ? `:\n${drift}` : ''}`);
  await db.close();
  const again = await openDatabase(pg.url, log);
  t.teardown(() => again.close());
  const pending = await again.orm.getMigrator().getPendingMigrations();
  t.same(pending, [], 'a second start applies nothing');
});

t.test('join_sources: completions move from omoi_join.completed to omoi_join_source rows and back', async (t) => {
  const { db, migrator, sql } = await migratedDatabase(t);
  const columns = async () => (await sql(`select column_name from information_schema.columns where table_name = 'omoi_join' order by column_name`)).map((r) => r.column_name);
  const join = (ticket: string, extra = '') =>
    `insert into omoi_join (ticket_id, id, continuation, sources, status, strategy, attempts, created_at, updated_at${extra ? ', completed' : ''}) ` +
    `values ('${ticket}', 'join-D', 'D', '["B","C","E"]', 'collecting', 'combine', 0, '2026-01-01T10:00:00Z', '2026-01-01T10:00:05Z'${extra ? `, '${extra}'` : ''})`;

  t.notOk((await columns()).includes('completed'), 'the join row has no completed column');
  await sql(join('T1'));
  await sql(join('T0'));
  await sql(`insert into omoi_join_source (ticket_id, join_id, source, commit, result, completed_at) values
    ('T1', 'join-D', 'B', '${'b'.repeat(40)}', '{"x":1}', now()), ('T1', 'join-D', 'C', '${'c'.repeat(40)}', null, now())`);

  t.same((await migrator.down({ to: 'Migration20261122100000_join_sources' })).map((m) => m.name),
    downTo('Migration20261122100000_join_sources'), 'down reverts the join_sources migration and the later ones only');
  t.ok((await columns()).includes('completed'));
  t.same((await sql(`select to_regclass('omoi_join_source') as t`))[0].t, null, 'omoi_join_source is dropped');
  const down = Object.fromEntries((await sql(`select ticket_id, completed from omoi_join`)).map((r) => [r.ticket_id, r.completed]));
  t.same(down, { T0: {}, T1: { B: { commit: 'b'.repeat(40), result: { x: 1 } }, C: { commit: 'c'.repeat(40), result: null } } }, 'source rows folded back into the map');

  // A join written by the old schema, with a source whose result is JSON null.
  await sql(join('T2', JSON.stringify({ E: { commit: 'e'.repeat(40), result: null }, B: { commit: 'b'.repeat(40), result: ['r'] } })));
  t.same((await migrator.up({ to: 'Migration20261122100000_join_sources' })).map((m) => m.name), ['Migration20261122100000_join_sources']);
  t.notOk((await columns()).includes('completed'), 'up drops the column again');
  const rows = await sql(`select ticket_id, join_id, source, commit, result, completed_at from omoi_join_source order by ticket_id, source`);
  t.same(rows.map((r) => [r.ticket_id, r.join_id, r.source, r.commit, r.result]), [
    ['T1', 'join-D', 'B', 'b'.repeat(40), { x: 1 }],
    ['T1', 'join-D', 'C', 'c'.repeat(40), null],
    ['T2', 'join-D', 'B', 'b'.repeat(40), ['r']],
    ['T2', 'join-D', 'E', 'e'.repeat(40), null],
  ], 'every completion became a row (a JSON null result is SQL null)');
  t.equal(new Date(rows[2].completed_at).toISOString(), '2026-01-01T10:00:05.000Z', "copied completions are dated by the join's updated_at");
  t.same((await sql(`select count(*)::int as n from omoi_join_source where result is null`))[0].n, 2);
  t.same((await migrator.up()).map((m) => m.name), upFrom('Migration20261201000000_explicit_flags'));
  const drift = await db.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
  t.equal(drift.trim(), '', `no drift after down and up again${drift ? `:\n${drift}` : ''}`);
});

t.test('explicit_flags: the states hidden in reason strings become columns and back', async (t) => {
  const { db, migrator, sql } = await migratedDatabase(t);
  t.same((await migrator.down({ to: 'Migration20261201000000_explicit_flags' })).map((m) => m.name), downTo('Migration20261201000000_explicit_flags'));
  const at = `'2026-01-01T10:00:00Z'`;
  await sql(`insert into omoi_ticket (id, title, repository, base_branch, status, ownership, reason, created_at, updated_at) values
    ('T1', 't', '/r', 'main', 'running', 'strict', 'finalizing', ${at}, ${at}), ('T2', 't', '/r', 'main', 'cancelled', 'strict', 'superseded', ${at}, ${at})`);
  await sql(`insert into omoi_task (ticket_id, id, spec, depends_on, owns, status, attempt, reason, created_at, updated_at) values
    ('T1', 'A', '{}', '[]', '[]', 'ready', 0, 'no_matching_agent', ${at}, ${at}), ('T1', 'B', '{}', '[]', '[]', 'blocked', 0, 'source_failed:A', ${at}, ${at})`);
  t.same((await migrator.up()).map((m) => m.name), upFrom('Migration20261201000000_explicit_flags'));
  t.same(await sql(`select id, finalizing, reason from omoi_ticket order by id`), [
    { id: 'T1', finalizing: true, reason: null }, { id: 'T2', finalizing: false, reason: 'superseded' },
  ], "a ticket's 'finalizing' reason became the flag");
  t.same(await sql(`select id, unmatched, reason from omoi_task order by id`), [
    { id: 'A', unmatched: true, reason: null }, { id: 'B', unmatched: false, reason: 'source_failed:A' },
  ], "a task's 'no_matching_agent' reason became the flag");
  await migrator.down({ to: 'Migration20261201000000_explicit_flags' });
  t.same(await sql(`select id, reason from omoi_ticket order by id`), [{ id: 'T1', reason: 'finalizing' }, { id: 'T2', reason: 'superseded' }], 'down writes the reason back');
  t.same(await sql(`select id, reason from omoi_task order by id`), [{ id: 'A', reason: 'no_matching_agent' }, { id: 'B', reason: 'source_failed:A' }]);
  await migrator.up();
  const drift = await db.orm.getSchemaGenerator().getUpdateSchemaSQL({ wrap: false });
  t.equal(drift.trim(), '', `no drift after down and up again${drift ? `:\n${drift}` : ''}`);
});

t.test('join_blocked_by: blocked joins are classified once from the reasons earlier code wrote; down drops the column', async (t) => {
  const { migrator, sql } = await migratedDatabase(t);
  t.same((await migrator.down({ to: 'Migration20261201220000_join_blocked_by' })).map((m) => m.name), downTo('Migration20261201220000_join_blocked_by'));
  const join = (ticket: string, status: string, reason: string | null) => sql(
    `insert into omoi_join (ticket_id, id, continuation, sources, status, strategy, attempts, reason, created_at, updated_at) values (?, 'join-D', 'D', '["B","C"]', ?, 'combine', 1, ?, now(), now())`,
    [ticket, status, reason]);
  await join('conflict', 'blocked', 'merge_conflict');
  await join('error', 'blocked', 'merge_error: escalated after 5 restarts: boom');
  await join('actor', 'blocked', 'actor_failed: escalated after 5 restarts: boom');
  await join('source', 'blocked', 'source_failed:B');
  await join('merging', 'merging', null);
  await migrator.up();
  const rows = Object.fromEntries((await sql(`select ticket_id, blocked_by from omoi_join`)).map((r) => [r.ticket_id, r.blocked_by]));
  t.same(rows, { conflict: 'merge_conflict', error: 'merge_error', actor: 'actor_failed', source: 'source_failed', merging: null });
  await migrator.down({ to: 'Migration20261201220000_join_blocked_by' });
  t.notOk((await sql(`select column_name from information_schema.columns where table_name = 'omoi_join'`)).some((r) => r.column_name === 'blocked_by'), 'down drops blocked_by');
  await migrator.up();
});

t.test('lease_history: an existing cluster keeps its partition count and the history of its held leases starts now', async (t) => {
  const { migrator, sql } = await migratedDatabase(t);
  t.same(await sql(`select * from omoi_cluster`), [], 'a fresh database has no partition count until a node starts');
  t.same((await migrator.down({ to: 'Migration20261202010000_lease_history' })).map((m) => m.name), downTo('Migration20261202010000_lease_history'));
  await sql(`insert into omoi_partition_lease (partition, node_id, epoch, expires_at) values
    (0, 'a', 3, now() + interval '1 minute'), (1, 'b', 1, now() - interval '1 minute'), (2, null, 2, now())`);
  await migrator.up();
  t.same(await sql(`select id, partitions from omoi_cluster`), [{ id: 1, partitions: 3 }], 'the count of lease rows is the cluster\'s partition count');
  t.same(await sql(`select partition, epoch, node_id, held_to from omoi_lease_history`), [{ partition: 0, epoch: 3, node_id: 'a', held_to: null }],
    'an open holding for the lease still held; none for an expired or free one');
  await migrator.down({ to: 'Migration20261202010000_lease_history' });
  t.same(await sql(`select to_regclass('omoi_lease_history') as h, to_regclass('omoi_cluster') as c`), [{ h: null, c: null }], 'down drops both tables');
  await migrator.up();
});

t.test('three nodes opening a fresh database at the same moment all start; each migration is applied once', async (t) => {
  const pg = await withPostgres(t);
  const log = pino({ level: 'silent' });
  const opened = await Promise.allSettled([1, 2, 3].map(() => openDatabase(pg.url, log)));
  for (const o of opened) if (o.status === 'fulfilled') t.teardown(() => o.value.close());
  t.same(opened.map((o) => o.status === 'rejected' ? String(o.reason) : 'ok'), ['ok', 'ok', 'ok'], 'no node failed its migrations');
  const db = (opened[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof openDatabase>>>).value;
  const applied = (await db.em().getConnection().execute('select name from omoi_migrations order by id')) as Array<{ name: string }>;
  t.same(applied.map((r) => r.name), MIGRATIONS.map((m) => m.name), 'every migration recorded exactly once');
});

t.test('agent_messages: the table of accepted signed agent message ids, one row per agent and id; down drops it', async (t) => {
  const { migrator, sql } = await migratedDatabase(t);
  await sql(`insert into omoi_agent_message (agent_id, message_id, stream_seq, at) values ('a', 'm1', 1, now()), ('b', 'm1', 2, now())`);
  await t.rejects(sql(`insert into omoi_agent_message (agent_id, message_id, stream_seq, at) values ('a', 'm1', 3, now())`), /duplicate key/, 'an id is used once per agent');
  t.same((await migrator.down({ to: 'Migration20261202110000_agent_messages' })).map((m) => m.name), downTo('Migration20261202110000_agent_messages'));
  t.same(await sql(`select to_regclass('omoi_agent_message') as m`), [{ m: null }], 'down drops the table');
  await migrator.up();
});

t.test('dashboard_views: events already logged get their agent_id; down drops the new columns', async (t) => {
  const { migrator, sql } = await migratedDatabase(t);
  t.same((await migrator.down({ to: 'Migration20261203110000_dashboard_views' })).map((m) => m.name), downTo('Migration20261203110000_dashboard_views'));
  const columns = async (table: string) => (await sql(`select column_name from information_schema.columns where table_name = ?`, [table])).map((r) => r.column_name);
  t.notOk((await columns('omoi_event')).includes('agent_id'), 'down drops omoi_event.agent_id');
  t.notOk((await columns('omoi_lease_history')).includes('taken_over_from'), 'down drops omoi_lease_history.taken_over_from');
  await sql(`insert into omoi_event (message_id, type, ticket_id, entity, payload, time) values
    ('e1', 'task.status', 'T1', 'A', '{"ticket_id":"T1","task_id":"A","agent_id":"agent-7"}', now()),
    ('e2', 'task.status', 'T1', 'A', '{"ticket_id":"T1","task_id":"A"}', now()),
    ('e3', 'odd', null, null, '{"agent_id":7}', now())`);
  await migrator.up();
  t.same(await sql(`select message_id, agent_id from omoi_event order by message_id`), [
    { message_id: 'e1', agent_id: 'agent-7' }, { message_id: 'e2', agent_id: null }, { message_id: 'e3', agent_id: null },
  ], "each row's agent_id is its payload's, when that is a string");
  t.ok((await columns('omoi_lease_history')).includes('taken_over_from'));
});

t.test('memory: the search column is generated from title, file words and body (stemmed); down drops the table', async (t) => {
  const { migrator, sql } = await migratedDatabase(t);
  await sql(`insert into omoi_memory (event_id, repository, kind, ticket_id, task_id, join_id, title, body, files, terms, commit, created_at)
    values ('e1', '/r', 'task_result', 'T1', 'A', null, 'add the parser', '{"ok":true}', '["src/config/loader.ts"]', 'src config loader ts', null, now())`);
  const match = async (q: string) => (await sql(`select count(*)::int as n from omoi_memory where search @@ websearch_to_tsquery('english', ?)`, [q]))[0].n;
  t.equal(await match('parsers'), 1, 'a stemmed word of the title matches');
  t.equal(await match('loader'), 1, 'a word of a file path matches');
  t.equal(await match('lexer'), 0, 'another word does not');
  await t.rejects(sql(`insert into omoi_memory (event_id, repository, kind, ticket_id, title, body, files, terms, created_at) values ('e1', '/r', 'task_result', 'T1', 'x', 'y', '[]', '', now())`), 'one row per event id');
  t.same((await migrator.down({ to: 'Migration20261204110000_memory' })).map((m) => m.name), downTo('Migration20261204110000_memory'));
  t.same(await sql(`select to_regclass('omoi_memory') as m`), [{ m: null }], 'down drops the table');
  await migrator.up();
});

t.test('approvals_delivery: one push per ticket and round; down drops the tables and the ticket columns', async (t) => {
  const { migrator, sql } = await migratedDatabase(t);
  const push = (round: number) => sql(`insert into omoi_ticket_push (ticket_id, round, head, status, attempts, next_attempt_at, payload, created_at, updated_at)
    values ('T1', ?, 'abc', 'pending', 0, now(), '{}', now(), now())`, [round]);
  await push(1);
  await t.rejects(push(1), /duplicate key/, 'a round is pushed by one row');
  await push(2);
  t.same((await migrator.down({ to: 'Migration20261204130000_approvals_delivery' })).map((m) => m.name), downTo('Migration20261204130000_approvals_delivery'));
  t.same(await sql(`select to_regclass('omoi_approval') as a, to_regclass('omoi_ticket_push') as p`), [{ a: null, p: null }], 'down drops both tables');
  const columns = (await sql(`select column_name from information_schema.columns where table_name = 'omoi_ticket'`)).map((r) => r.column_name);
  t.notOk(columns.includes('delivery_status') || columns.includes('approvals'), 'down drops the ticket columns');
  await migrator.up();
});
