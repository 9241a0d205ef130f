import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { connectSql, isRunning, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/embedded/index.ts';
import { tempDir, waitFor, type TestContext } from '../harness/index.ts';

const log = () => undefined;

async function query<Row>(url: string, sql: string, params: unknown[] = []): Promise<Row[]> {
  const client = await connectSql(url);
  try {
    return (await client.query<Row>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function postmasterPid(dataDir: string): Promise<number> {
  return Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
}

/** Starts a server stopped in teardown (a no-op if the test stopped it already). */
async function start(t: TestContext, dataDir: string): Promise<EmbeddedPostgres> {
  const pg = await startEmbeddedPostgres({ dataDir, log });
  t.teardown(() => pg.stop());
  return pg;
}

t.test('starts, answers queries on the omoi database, stops', async (t) => {
  const dataDir = path.join(await tempDir(t, 'pg'), 'nested', 'postgres');
  const pg = await start(t, dataDir);
  t.match(pg.url, /^postgres:\/\/omoi:[^@]+@127\.0\.0\.1:\d+\/omoi$/);
  t.equal(new URL(pg.url).port, String(pg.port));
  t.same(await query(pg.url, 'select 1 as one, current_database() as db'), [{ one: 1, db: 'omoi' }]);
  const pid = await postmasterPid(dataDir);
  t.ok(await isRunning(pid), 'the postmaster runs');
  await pg.stop();
  t.notOk(await isRunning(pid), 'the postmaster is gone after stop()');
  await pg.stop(); // idempotent
  await t.rejects(query(pg.url, 'select 1'), 'the port no longer answers');
});

t.test('as root, the data dir belongs to the postgres user and is reachable through a 0700 parent', async (t) => {
  if (process.getuid?.() !== 0) {
    t.fail('this suite runs as root (PostgreSQL as the postgres user is the case under test)');
    return;
  }
  const parent = await tempDir(t, 'pg'); // mkdtemp: mode 0700, owned by root
  const dataDir = path.join(parent, 'postgres');
  const pg = await start(t, dataDir);
  const info = await stat(dataDir);
  t.not(info.uid, 0, 'the data dir is not owned by root');
  t.same(await query(pg.url, 'select current_user as u'), [{ u: 'omoi' }]);
  t.ok((await stat(parent)).mode & 0o001, 'the parent gained search permission for others');
});

t.test('restarts on an existing data dir with its data', async (t) => {
  const dataDir = path.join(await tempDir(t, 'pg'), 'postgres');
  const first = await start(t, dataDir);
  await query(first.url, 'create table kept (v text)');
  await query(first.url, "insert into kept values ('still here')");
  await first.stop();

  const second = await start(t, dataDir);
  t.same(await query(second.url, 'select v from kept'), [{ v: 'still here' }]);
  // The password file is reused: the URL credentials are the same across restarts.
  t.equal(new URL(second.url).password, new URL(first.url).password);
});

t.test('refuses a data dir whose server is still owned by a live process', async (t) => {
  const dataDir = path.join(await tempDir(t, 'pg'), 'postgres');
  const pg = await start(t, dataDir);
  await t.rejects(startEmbeddedPostgres({ dataDir, log }), { name: 'OmoiError', code: 'postgres_data_dir_in_use' });
  t.same(await query(pg.url, 'select 1 as one'), [{ one: 1 }], 'the running server is untouched');
});

t.test('starts again after the postmaster was SIGKILLed (stale postmaster.pid, leftover backends)', async (t) => {
  const dataDir = path.join(await tempDir(t, 'pg'), 'postgres');
  const crashed = await start(t, dataDir);
  await query(crashed.url, 'create table survived (v int)');
  await query(crashed.url, 'insert into survived values (42)');
  const oldPid = await postmasterPid(dataDir);
  process.kill(oldPid, 'SIGKILL');
  await waitFor('the killed postmaster to be gone', async () => !(await isRunning(oldPid)));

  const restarted = await start(t, dataDir);
  t.not(await postmasterPid(dataDir), oldPid);
  t.same(await query(restarted.url, 'select v from survived'), [{ v: 42 }], 'committed data survived the crash');
  await crashed.stop(); // the dead handle stops without touching the new server
  t.same(await query(restarted.url, 'select 1 as one'), [{ one: 1 }]);
});

t.test('an ephemeral cluster deletes its data dir on stop', async (t) => {
  const dataDir = path.join(await tempDir(t, 'pg'), 'postgres');
  const pg = await startEmbeddedPostgres({ dataDir, log, ephemeral: true });
  t.teardown(() => pg.stop());
  t.same(await query(pg.url, 'show fsync'), [{ fsync: 'off' }]);
  await pg.stop();
  await t.rejects(stat(dataDir), { code: 'ENOENT' });
});
