import { connect } from '@nats-io/transport-node';
import { readFile, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { connectSql, isRunning } from '../../src/embedded/index.ts';
import { freePort, git, makeRepo, tempDir, waitFor, withNats, withPostgres } from '../harness/index.ts';

async function sql<Row = Record<string, unknown>>(url: string, statement: string, params: unknown[] = []): Promise<Row[]> {
  const client = await connectSql(url);
  try {
    return (await client.query<Row>(statement, params)).rows;
  } finally {
    await client.end();
  }
}

const exists = (p: string) => stat(p).then(() => true, () => false);

t.test('withPostgres: a fresh database per call on one cluster, dropped in teardown', async (t) => {
  const outer = await withPostgres(t);
  let inner: { url: string; database: string } | undefined;
  await t.test('inner', async (t) => {
    const a = await withPostgres(t);
    const b = await withPostgres(t);
    inner = a;
    t.not(a.database, b.database, 'distinct databases');
    t.match(a.database, /^omoi_test_[0-9a-f]+$/);
    t.equal(new URL(a.url).port, new URL(b.url).port, 'the same cluster');
    t.same(await sql(a.url, 'select current_database() as db'), [{ db: a.database }]);
    await sql(a.url, 'create table only_in_a (v int)');
    t.same(await sql(b.url, "select count(*)::int as n from pg_tables where tablename = 'only_in_a'"), [{ n: 0 }], 'isolated');
    // A connection left open must not block the drop.
    const leftOpen = await connectSql(b.url);
    t.teardown(() => leftOpen.end().catch(() => undefined));
  });
  const rows = await sql(outer.url, 'select datname from pg_database where datname = $1', [inner!.database]);
  t.same(rows, [], 'the inner database was dropped at the end of its test');
});

t.test('withNats: a server for this test, stopped in teardown', async (t) => {
  let pid = 0;
  await t.test('inner', async (t) => {
    const nats = await withNats(t);
    pid = nats.pid;
    const nc = await connect({ servers: nats.url, reconnect: false });
    t.ok(nc.info?.jetstream, 'JetStream is enabled');
    await nc.close();
  });
  t.notOk(await isRunning(pid), 'the server is gone after its test');
});

t.test('makeRepo: a real repository with one commit on main, removed in teardown', async (t) => {
  let dir = '';
  await t.test('inner', async (t) => {
    const repo = await makeRepo(t, { 'README.md': '# hello\n', 'src/deep/file.ts': 'export const x = 1;\n' });
    dir = repo.dir;
    t.equal(await git(repo.dir, 'rev-parse', 'HEAD'), repo.head);
    t.equal(await git(repo.dir, 'branch', '--show-current'), 'main');
    t.equal(await git(repo.dir, 'rev-list', '--count', 'HEAD'), '1');
    t.same((await git(repo.dir, 'ls-tree', '-r', '--name-only', 'HEAD')).split('\n'), ['README.md', 'src/deep/file.ts']);
    t.equal(await git(repo.dir, 'status', '--porcelain'), '', 'clean work tree');
    t.equal(await readFile(path.join(repo.dir, 'src/deep/file.ts'), 'utf8'), 'export const x = 1;\n');
  });
  t.notOk(await exists(dir), 'the repository was deleted');
});

t.test('tempDir: created, then removed in teardown', async (t) => {
  let dir = '';
  await t.test('inner', async (t) => {
    dir = await tempDir(t, 'probe');
    await writeFile(path.join(dir, 'f'), 'x');
    t.match(path.basename(dir), /^omoi-probe-/);
  });
  t.notOk(await exists(dir));
});

t.test('waitFor: resolves with the first truthy-enough value, names what timed out', async (t) => {
  let calls = 0;
  t.equal(await waitFor('the third call', () => (++calls >= 3 ? 'done' : undefined), { intervalMs: 1 }), 'done');
  t.equal(await waitFor('zero is a value', () => 0), 0, 'only undefined and false mean "not yet"');
  await t.rejects(waitFor('the moon to turn blue', () => false, { timeoutMs: 50, intervalMs: 5 }), {
    message: /timed out after 50 ms waiting for the moon to turn blue/,
  });
  await t.rejects(
    waitFor('a flaky probe', () => { throw new Error('probe exploded'); }, { timeoutMs: 30, intervalMs: 5 }),
    { message: /a flaky probe.*probe exploded/ },
  );
});

t.test('freePort: a port that can be bound', async (t) => {
  const port = await freePort();
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  t.equal((server.address() as net.AddressInfo).port, port);
  await new Promise((resolve) => server.close(resolve));
});
