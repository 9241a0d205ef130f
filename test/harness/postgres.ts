import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connectSql, quoteIdent, startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/embedded/index.ts';
import { serverLog } from './server-log.ts';
import type { TestContext } from './test-context.ts';

let cluster: Promise<EmbeddedPostgres> | undefined;

/**
 * The PostgreSQL cluster of this test process: started on first use in a temp dir, ephemeral
 * (no fsync). It ends with the process: the exit handler asks for a fast shutdown and the
 * orphan watchdog waits for it and deletes the data dir (also when the process is killed).
 * No root-tap teardown on purpose: adding one makes tap end the root test whenever it idles.
 */
function sharedCluster(): Promise<EmbeddedPostgres> {
  cluster ??= (async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'omoi-test-pg-'));
    try {
      return await startEmbeddedPostgres({ dataDir, ephemeral: true, log: serverLog('postgres') });
    } catch (err) {
      await rm(dataDir, { recursive: true, force: true });
      throw err;
    }
  })();
  cluster.catch(() => (cluster = undefined));
  return cluster;
}

/**
 * A fresh, empty database (`omoi_test_<random>`) on the process's cluster, dropped in
 * `t.teardown` (open connections are terminated). Throws (never skips) if PostgreSQL cannot run.
 */
export async function withPostgres(t: TestContext): Promise<{ url: string; database: string }> {
  const server = await sharedCluster();
  const database = `omoi_test_${randomBytes(6).toString('hex')}`;
  await admin(server, `create database ${quoteIdent(database)}`);
  t.teardown(() => admin(server, `drop database if exists ${quoteIdent(database)} with (force)`));
  const url = new URL(server.url);
  url.pathname = `/${database}`;
  return { url: url.toString(), database };
}

async function admin(server: EmbeddedPostgres, sql: string): Promise<void> {
  const client = await connectSql(server.url);
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
