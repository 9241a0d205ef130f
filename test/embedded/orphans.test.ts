/**
 * No orphan servers: when the process owning a server is `kill -9`ed, either its watchdog
 * stops the server, or (watchdog disabled) the next start on the same directory does.
 * The owner is a separate node process (fixtures/server-owner.ts): we cannot SIGKILL ourselves.
 */
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import path from 'node:path';
import { stat } from 'node:fs/promises';
import t from 'tap';
import { connectSql, isRunning, startEmbeddedNats, startEmbeddedPostgres } from '../../src/embedded/index.ts';
import { tempDir, waitFor, type TestContext } from '../harness/index.ts';
import { killOwner, spawnOwner } from './fixtures/spawn-owner.ts';
import { terminate } from '../../src/embedded/processes.ts';

const log = () => undefined;

/** Kills `pid` in teardown if a failing test left it running. */
function reap(t: TestContext, pid: number): void {
  t.teardown(() => terminate(pid, [{ signal: 'SIGTERM', waitMs: 5_000 }]));
}

async function sql(url: string, statement: string): Promise<Array<Record<string, unknown>>> {
  const client = await connectSql(url);
  try {
    return (await client.query(statement)).rows;
  } finally {
    await client.end();
  }
}

t.test('postgres: the watchdog stops the server when its owner is kill -9ed', async (t) => {
  const dataDir = path.join(await tempDir(t, 'pg', { mode: 0o755 }), 'postgres');
  const { owner, pid } = await spawnOwner(t, 'postgres', dataDir, true);
  reap(t, pid);
  t.ok(await isRunning(pid), 'the server runs while its owner lives');
  await killOwner(owner);
  await waitFor('the orphaned postmaster to be stopped by the watchdog', async () => !(await isRunning(pid)));
  t.pass('the orphaned postmaster is gone');
});

t.test('postgres: without a watchdog, the next start stops the orphaned server', async (t) => {
  const dataDir = path.join(await tempDir(t, 'pg', { mode: 0o755 }), 'postgres');
  const { owner, pid, url } = await spawnOwner(t, 'postgres', dataDir, false);
  reap(t, pid);
  await sql(url, 'create table kept (v int)');
  await sql(url, 'insert into kept values (7)');
  await killOwner(owner);
  t.ok(await isRunning(pid), 'the orphaned postmaster is still running (no watchdog)');

  const pg = await startEmbeddedPostgres({ dataDir, log });
  t.teardown(() => pg.stop());
  t.notOk(await isRunning(pid), 'the old postmaster was stopped before the new start');
  t.same(await sql(pg.url, 'select v from kept'), [{ v: 7 }], 'the data is there');
});

t.test('postgres: an ephemeral cluster orphaned by a kill -9 is stopped and its data dir deleted', async (t) => {
  const dataDir = path.join(await tempDir(t, 'pg', { mode: 0o755 }), 'postgres');
  const { owner, pid } = await spawnOwner(t, 'postgres-ephemeral', dataDir, true);
  reap(t, pid);
  t.ok((await stat(dataDir)).isDirectory(), 'the data dir exists while the owner lives');
  await killOwner(owner);
  await waitFor('the orphaned postmaster to stop', async () => !(await isRunning(pid)));
  await waitFor('the watchdog to delete the data dir', () => stat(dataDir).then(() => false, () => true));
  t.pass('server stopped and data dir deleted');
});

t.test('nats: the watchdog kills the server when its owner is kill -9ed', async (t) => {
  const storeDir = await tempDir(t, 'nats');
  const { owner, pid } = await spawnOwner(t, 'nats', storeDir, true);
  reap(t, pid);
  t.ok(await isRunning(pid), 'the server runs while its owner lives');
  await killOwner(owner);
  await waitFor('the orphaned nats-server to be stopped by the watchdog', async () => !(await isRunning(pid)));
  t.pass('the orphaned nats-server is gone');
});

t.test('nats: without a watchdog, the next start stops the orphaned server and keeps its data', async (t) => {
  const storeDir = await tempDir(t, 'nats');
  const { owner, pid, url } = await spawnOwner(t, 'nats', storeDir, false);
  reap(t, pid);
  const nc = await connect({ servers: url, reconnect: false });
  await (await jetstreamManager(nc)).streams.add({ name: 'ORPHAN', subjects: ['orphan.>'] });
  await jetstream(nc).publish('orphan.one', 'x');
  await nc.close();
  await killOwner(owner);
  t.ok(await isRunning(pid), 'the orphaned server is still running (no watchdog)');

  const nats = await startEmbeddedNats({ storeDir, log });
  t.teardown(() => nats.stop());
  t.notOk(await isRunning(pid), 'the old server was stopped before the new start');
  const nc2 = await connect({ servers: nats.url, reconnect: false });
  const info = await (await jetstreamManager(nc2)).streams.info('ORPHAN');
  await nc2.close();
  t.equal(info.state.messages, 1, 'the stream survived');
});
