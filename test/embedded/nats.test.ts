import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import t from 'tap';
import { findNatsServer, isRunning, startEmbeddedNats, type EmbeddedNats } from '../../src/embedded/index.ts';
import { tempDir, waitFor, type TestContext } from '../harness/index.ts';

const log = () => undefined;

async function start(t: TestContext, storeDir: string): Promise<EmbeddedNats> {
  const nats = await startEmbeddedNats({ storeDir, log });
  t.teardown(() => nats.stop());
  return nats;
}

/** Connects, runs `fn`, closes the connection. */
async function withConnection<T>(url: string, fn: (nc: Awaited<ReturnType<typeof connect>>) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: url, reconnect: false });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

async function messagesIn(url: string, stream: string): Promise<number> {
  return withConnection(url, async (nc) => (await (await jetstreamManager(nc)).streams.info(stream)).state.messages);
}

t.test('starts nats-server with JetStream on a free port', async (t) => {
  const nats = await start(t, await tempDir(t, 'nats'));
  t.match(nats.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
  t.ok(nats.port > 0);
  t.ok(await isRunning(nats.pid), 'the server process runs');
  const info = await withConnection(nats.url, async (nc) => (await jetstreamManager(nc)).getAccountInfo());
  t.type(info.limits, 'object', 'JetStream answers account info');
  const big = await withConnection(nats.url, async (nc) => nc.info?.max_payload);
  t.ok((big ?? 0) >= 8 * 1024 * 1024, 'a generous max_payload');
});

t.test('restart() keeps the port and the stream data', async (t) => {
  const nats = await start(t, await tempDir(t, 'nats'));
  await withConnection(nats.url, async (nc) => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'KEPT', subjects: ['kept.>'] });
    const js = jetstream(nc);
    await js.publish('kept.one', 'first');
    await js.publish('kept.two', 'second');
  });
  const { port, pid } = nats;
  await nats.restart();
  t.equal(nats.port, port, 'same port');
  t.not(nats.pid, pid, 'a new server process');
  t.notOk(await isRunning(pid), 'the old process is gone');
  t.equal(await messagesIn(nats.url, 'KEPT'), 2, 'the stream and its messages survived');
});

t.test('kill9() crashes the server; restart() recovers the store', async (t) => {
  const nats = await start(t, await tempDir(t, 'nats'));
  await withConnection(nats.url, async (nc) => {
    await (await jetstreamManager(nc)).streams.add({ name: 'CRASH', subjects: ['crash.>'] });
    await jetstream(nc).publish('crash.x', 'acked before the crash');
  });
  const pid = nats.pid;
  nats.kill9();
  await waitFor('the killed server to be gone', async () => !(await isRunning(pid)));
  await t.rejects(connect({ servers: nats.url, reconnect: false }), 'nothing listens after the crash');
  await nats.restart();
  t.equal(await messagesIn(nats.url, 'CRASH'), 1, 'an acked message survived SIGKILL');
});

t.test('stop() is idempotent and frees the port', async (t) => {
  const nats = await start(t, await tempDir(t, 'nats'));
  const pid = nats.pid;
  await nats.stop();
  await nats.stop();
  t.notOk(await isRunning(pid));
  await t.rejects(connect({ servers: nats.url, reconnect: false }));
});

t.test('refuses a store whose server is still owned by a live process', async (t) => {
  const storeDir = await tempDir(t, 'nats');
  const nats = await start(t, storeDir);
  await t.rejects(startEmbeddedNats({ storeDir, log }), { name: 'OmoiError', code: 'nats_store_in_use' });
  t.ok(await isRunning(nats.pid), 'the running server is untouched');
});

t.test('an explicit port that is taken fails with the server output', async (t) => {
  const first = await start(t, await tempDir(t, 'nats'));
  await t.rejects(startEmbeddedNats({ storeDir: await tempDir(t, 'nats'), port: first.port, log }), {
    name: 'OmoiError',
    code: 'nats_start_failed',
    message: /address already in use/i,
  });
});

t.test('a missing nats-server binary fails with what to install', async (t) => {
  const empty = await tempDir(t, 'no-nats');
  await t.rejects(findNatsServer([empty]), {
    name: 'OmoiError',
    code: 'nats_server_missing',
    message: /apt-get install nats-server/,
  });
  t.match(await findNatsServer(), /\/nats-server$/, 'found on this machine by default');
});
