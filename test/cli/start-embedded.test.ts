import { existsSync } from 'node:fs';
import { readFile, readlink, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { connect } from '@nats-io/transport-node';
import { tempDir, waitFor } from '../harness/index.ts';
import type { TestContext } from '../harness/index.ts';
import { childPids, runOmoi, spawnOmoi, stillRunning } from './run-omoi.ts';

/** A data directory the embedded PostgreSQL (run as user `postgres` when we are root) can enter. */
async function dataDirFor(t: TestContext): Promise<string> {
  return path.join(await tempDir(t, 'cli-embedded', { mode: 0o755 }), 'data');
}

const nodeEnv = (dataDir: string) => ({
  OMOI_DATA_DIR: dataDir, OMOI_HTTP_PORT: '0', OMOI_PARTITIONS: '4', OMOI_LOG_LEVEL: 'warn', OMOI_HEARTBEAT_MS: '500', OMOI_SHUTDOWN_GRACE_MS: '5000',
});

t.test('omoi start on the embedded defaults: SIGINT stops the node and every server it started', async (t) => {
  const dataDir = await dataDirFor(t);
  const node = spawnOmoi(t, ['start'], nodeEnv(dataDir));
  const line = await node.line(/^omoi: node /, 'the start line');
  const url = /· http (http:\/\/\S+) ·/.exec(line)?.[1];
  t.ok(line.includes(`NATS client credentials in ${path.join(dataDir, 'nats-client.env')}`), 'the start line says where the NATS client credentials are');
  t.equal((await fetch(`${url}/readyz`)).status, 200, 'ready');

  const children = await childPids(node.pid);
  t.ok(children.length >= 2, `the node runs its servers as children (${children.join(', ')})`);

  // The embedded database is reachable by `omoi dlq` through the file the node writes.
  const dlq = await runOmoi(['dlq', 'list'], { OMOI_DATA_DIR: dataDir });
  t.equal(dlq.code, 0, dlq.stderr);
  t.equal(dlq.stdout.trim(), 'no open dead letters');

  // The embedded NATS wants a user: every file holding one is private.
  for (const file of ['nats-auth.json', 'nats-client.env', 'api-token', 'nats/omoi-nats-server.conf']) {
    t.equal((await stat(path.join(dataDir, file))).mode & 0o777, 0o600, `${file} is 0600`);
  }
  const env = await readFile(path.join(dataDir, 'nats-client.env'), 'utf8');
  const natsUrl = /^NATS_URL=(nats:\/\/127\.0\.0\.1:\d+)$/m.exec(env)?.[1];
  t.ok(natsUrl, 'nats-client.env says where the embedded NATS listens');
  const anonymous = await connect({ servers: natsUrl!, maxReconnectAttempts: 0 }).then(async (nc) => { await nc.close(); return 'connected'; }, (err: Error) => err.message);
  t.match(anonymous, /Authorization Violation/, 'a connection without credentials is refused');

  // The CLI finds the URL and the client user in the data directory: no flags, as in the README.
  const sub = spawnOmoi(t, ['sub', 'omoi.errors.>', '--count', '1', '--timeout', '60000'], { OMOI_DATA_DIR: dataDir });
  await sub.line(/listening on omoi\.errors\.>/, 'omoi sub listening');
  const pub = await runOmoi(['pub', '--no-validate', 'omoi.in.ticket.create', '{"ticket_id":'], { OMOI_DATA_DIR: dataDir });
  t.equal(pub.code, 0, pub.stderr);
  t.match(pub.stdout, /stream OMOI_IN seq \d+/, 'omoi pub with no extra flags is stored');
  t.same(await sub.exited, { code: 0, signal: null }, 'omoi sub saw the node\'s answer (its rejection): the node works end to end on its own user');
  t.match(sub.stdout(), /"subject":"omoi\.errors\./);

  node.child.kill('SIGINT');
  t.same(await node.exited, { code: 0, signal: null }, 'SIGINT: a graceful stop, exit 0');
  t.same(await stillRunning(children), [], 'no child process left: database, NATS and their watchdogs are gone');
  t.notOk(existsSync(path.join(dataDir, 'database-url')), 'the database URL file is removed with the database');
});

t.test('a second signal during the graceful stop exits at once with 143', async (t) => {
  const dataDir = await dataDirFor(t);
  const node = spawnOmoi(t, ['start'], nodeEnv(dataDir));
  await node.line(/^omoi: node /, 'the start line');
  const children = await childPids(node.pid);

  node.child.kill('SIGTERM');
  await node.line(/SIGTERM: stopping the node gracefully/, 'the graceful stop');
  node.child.kill('SIGTERM');
  t.same(await node.exited, { code: 143, signal: null }, 'forced exit: 128 + SIGTERM');
  t.match(node.stderr(), /SIGTERM again: exiting without waiting/);
  // Whatever the interrupted stop left, the orphan watchdogs stop it.
  await waitFor('the embedded servers to be gone', async () => (await stillRunning(children)).length === 0, { timeoutMs: 60_000 });
  t.pass('no child process left behind');
});

t.test('omoi start with its data in a private (0700) directory: works, and changes no directory outside it', async (t) => {
  if (process.getuid?.() !== 0) {
    t.fail('this suite runs as root (PostgreSQL as the postgres user is the case under test)');
    return;
  }
  const home = await tempDir(t, 'cli-private-home'); // mkdtemp: 0700, like /root or a CI workspace
  const dataDir = path.join(home, 'checkout', '.omoi');
  const modes = async () => {
    const out: Record<string, number> = {};
    for (let dir = home; ; dir = path.dirname(dir)) {
      out[dir] = (await stat(dir)).mode & 0o7777;
      if (dir === path.dirname(dir)) return out;
    }
  };
  const before = await modes();
  const node = spawnOmoi(t, ['start'], { ...nodeEnv(dataDir), OMOI_LOG_LEVEL: 'info' });
  const line = await node.line(/^omoi: node /, 'the start line');
  const url = /· http (http:\/\/\S+) ·/.exec(line)?.[1];
  t.equal((await fetch(`${url}/readyz`)).status, 200, 'ready');
  const cluster = await readlink(path.join(dataDir, 'postgres'));
  t.teardown(() => rm(cluster, { recursive: true, force: true }));
  t.match(node.stdout() + node.stderr(), /embedded PostgreSQL keeps its data in \S+ .*cannot enter/, 'the node says where its database went, and why');

  node.child.kill('SIGINT');
  t.same(await node.exited, { code: 0, signal: null }, 'graceful stop');
  t.same(await modes(), before, 'the private directory and every directory above it keep their modes');
});
