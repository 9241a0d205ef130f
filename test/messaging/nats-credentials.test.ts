import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { natsTarget } from '../../src/cli/nats-client.ts';
import { loadConfig } from '../../src/config/index.ts';
import { embeddedAuthorization, loadOrCreateNatsAuth, writeClientEnv } from '../../src/embedded/index.ts';
import { OmoiError } from '../../src/errors.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { connectNats } from '../../src/messaging/connection.ts';
import { connectOptionsOf, credentialsOf } from '../../src/messaging/nats-credentials.ts';
import { ensureStreams } from '../../src/messaging/streams.ts';
import { tempDir, withNats } from '../harness/index.ts';
import { runOmoi } from '../cli/run-omoi.ts';

// The NATS_* settings reach a real server the way a node and the CLI use them: a token, TLS
// with a client certificate, and the CLI's choice of user from a data directory.

const log = createLogger('silent', 'test');
const exec = promisify(execFile);

t.test('NATS_TOKEN: a node and omoi pub authenticate with it; a wrong one is nats_auth_failed', async (t) => {
  const nats = await withNats(t, { authorization: () => 'authorization { token: "s3cret-token" }\n' });
  const config = loadConfig({ NATS_URL: nats.url, NATS_TOKEN: 's3cret-token' });
  const nc = await connectNats(config.natsUrl!, 'test', log, credentialsOf(config));
  t.teardown(() => nc.close());
  await ensureStreams(await jetstreamManager(nc), { partitions: 1, maxDeliver: 5, ackWaitMs: 30_000 });

  const dataDir = await tempDir(t, 'nats-token');
  const ok = await runOmoi(['pub', '--no-validate', 'omoi.in.ticket.create', '{}'], { OMOI_DATA_DIR: dataDir, NATS_URL: nats.url, NATS_TOKEN: 's3cret-token' });
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /stream OMOI_IN seq 1/);

  const err = await connectNats(nats.url, 'test', log, { token: 'wrong-token' }).then(() => undefined, (e: unknown) => e);
  t.ok(err instanceof OmoiError && err.code === 'nats_auth_failed', String(err));
  t.match((err as Error).message, /\(a token\)/);
  t.notMatch((err as Error).message, /wrong-token/, 'the token is not in the message');
});

t.test('TLS: NATS_CA, NATS_CERT and NATS_KEY against a server that verifies client certificates', async (t) => {
  const dir = await tempDir(t, 'nats-tls');
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => exec('openssl', args, { cwd: dir });
  await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=omoi-test-ca', '-keyout', f('ca.key'), '-out', f('ca.pem'));
  await writeFile(f('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  for (const who of ['server', 'client']) {
    await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who}`, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`));
    await openssl('x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', f('san.ext'), '-out', f(`${who}.pem`));
  }
  const nats = await withNats(t, {
    authorization: () => `tls { cert_file: ${JSON.stringify(f('server.pem'))}, key_file: ${JSON.stringify(f('server.key'))}, ca_file: ${JSON.stringify(f('ca.pem'))}, verify: true }\n`,
  });
  const config = loadConfig({ NATS_URL: nats.url, NATS_CA: f('ca.pem'), NATS_CERT: f('client.pem'), NATS_KEY: f('client.key') });
  const nc = await connectNats(config.natsUrl!, 'test', log, credentialsOf(config));
  t.teardown(() => nc.close());
  t.ok(nc.info?.tls_required, 'connected over TLS');
  await nc.flush();

  // (The CLI's connect: a node's would keep retrying a refused handshake, as for any unreachable server.)
  const noCert = await connect({ servers: nats.url, maxReconnectAttempts: 0, timeout: 5_000, ...connectOptionsOf({ caFile: f('ca.pem') }) })
    .then(async (c) => { await c.close(); return 'connected'; }, (e: Error) => e.message);
  t.not(noCert, 'connected', `without a client certificate the server refuses: ${noCert}`);
});

t.test('the CLI: the client user of a data directory, the node user for dlq retry, NATS_* settings first', async (t) => {
  const dataDir = await tempDir(t, 'nats-target');
  const auth = loadOrCreateNatsAuth(dataDir);
  const nats = await withNats(t, { authorization: () => embeddedAuthorization(dataDir) });
  writeClientEnv(dataDir, nats.url, auth.client);
  const env = { OMOI_DATA_DIR: dataDir };

  const client = natsTarget(undefined, 'client', env);
  t.same({ url: client.url, user: client.creds.user, inbox: client.creds.inboxPrefix }, { url: nats.url, user: 'omoi-client', inbox: '_INBOX.omoi-client' });
  t.equal(natsTarget(nats.url, 'client', env).creds.user, 'omoi-client', '--nats-url naming the same server: the same user');
  t.same(natsTarget('nats://10.1.2.3:4222', 'client', env).creds, {}, 'another server never gets the local passwords');
  const own = natsTarget(undefined, 'client', { ...env, NATS_USER: 'me', NATS_PASSWORD: 'pw' });
  t.same({ url: own.url, user: own.creds.user, inbox: own.creds.inboxPrefix }, { url: nats.url, user: 'me', inbox: undefined }, 'NATS_* settings win; the local server\'s URL is still found');

  const node = natsTarget(undefined, 'node', env);
  t.equal(node.creds.user, 'omoi-node');
  const nc = await connectNats(node.url, 'test', log, node.creds);
  t.teardown(() => nc.close());
  await ensureStreams(await jetstreamManager(nc), { partitions: 1, maxDeliver: 5, ackWaitMs: 30_000 });
  t.equal((await jetstream(nc).publish('omoi.part.0.ticket.create', '{}')).stream, 'OMOI_PART', 'the node user may republish internal commands (omoi dlq retry)');
});
