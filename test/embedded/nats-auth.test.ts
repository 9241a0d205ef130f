import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { connect, errors, type NatsConnection } from '@nats-io/transport-node';
import { embeddedAuthorization, loadOrCreateNatsAuth, NatsAuthFiles, startEmbeddedNats, writeClientEnv, type EmbeddedNats } from '../../src/embedded/index.ts';
import { OmoiError } from '../../src/errors.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { connectNats } from '../../src/messaging/connection.ts';
import { openGitBucket } from '../../src/messaging/git-bucket.ts';
import { connectOptionsOf, type NatsCredentials } from '../../src/messaging/nats-credentials.ts';
import { agentConsumerName, agentInboxPrefix, CLIENT_INBOX_PREFIX } from '../../src/messaging/nats-permissions.ts';
import { ensureStreams } from '../../src/messaging/streams.ts';
import { tempDir, waitFor, withNats, type TestContext } from '../harness/index.ts';
import { serverLog } from '../harness/server-log.ts';
import { runOmoi } from '../cli/run-omoi.ts';

// One embedded server with authorization, as a node without NATS_URL runs it: its users come
// from the data directory (src/embedded/nats-auth.ts), its permissions from
// src/messaging/nats-permissions.ts. Every refusal below is the server's, on a real connection.

const log = createLogger('silent', 'test');
const dataDir = await tempDir(t, 'nats-auth', { mode: 0o755 });
const auth = loadOrCreateNatsAuth(dataDir);
const nats: EmbeddedNats = await startEmbeddedNats({
  storeDir: NatsAuthFiles.storeDir(dataDir), log: serverLog('nats'), authorization: () => embeddedAuthorization(dataDir),
});
t.teardown(() => nats.stop());
writeClientEnv(dataDir, nats.url, auth.client);

const node = await connectNats(nats.url, 'test-node', log, { user: auth.node.user, password: auth.node.password });
t.teardown(() => node.close());
await ensureStreams(await jetstreamManager(node), { partitions: 2, maxDeliver: 5, ackWaitMs: 30_000 });
await openGitBucket(jetstream(node));

const clientCreds: NatsCredentials = { user: auth.client.user, password: auth.client.password, inboxPrefix: CLIENT_INBOX_PREFIX };

async function open(t: TestContext, creds: NatsCredentials): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: 0, ...connectOptionsOf(creds) });
  t.teardown(() => nc.close());
  return nc;
}

/** The next permissions violation the server reports on `nc`. */
function nextViolation(nc: NatsConnection): Promise<InstanceType<typeof errors.PermissionViolationError>> {
  return (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error' && s.error instanceof errors.PermissionViolationError) return s.error;
    }
    throw new Error('connection closed without a permissions violation');
  })();
}

async function streamMessages(stream: string): Promise<number> {
  return (await (await jetstreamManager(node)).streams.info(stream)).state.messages;
}


/** What a subscription yields first: a message, its close, or the error the server sent (a refused subscribe). */
async function firstOrError(sub: AsyncIterable<unknown>): Promise<unknown> {
  try {
    for await (const _ of sub) return 'a message';
    return 'closed without error';
  } catch (err) {
    return err;
  }
}

t.test('the data directory files are private', async (t) => {
  for (const file of [NatsAuthFiles.auth(dataDir), NatsAuthFiles.clientEnv(dataDir), path.join(NatsAuthFiles.storeDir(dataDir), 'omoi-nats-server.conf')]) {
    t.equal((await stat(file)).mode & 0o777, 0o600, `${path.basename(file)} is 0600`);
  }
  t.same(loadOrCreateNatsAuth(dataDir), auth, 'the passwords are made once and reused');
  t.match(await readFile(NatsAuthFiles.clientEnv(dataDir), 'utf8'), `NATS_USER=omoi-client\nNATS_PASSWORD=${auth.client.password}\n`);
});

t.test('no credentials, or a wrong password: refused at the first connect with nats_auth_failed, not retried forever', async (t) => {
  for (const [what, creds] of [['no credentials', {}], ['a wrong password', { user: auth.client.user, password: 'not-the-password' }]] as const) {
    const started = Date.now();
    const err = await connectNats(nats.url, 'test-refused', log, creds).then(() => undefined, (e: unknown) => e);
    t.ok(err instanceof OmoiError && err.code === 'nats_auth_failed', `${what}: ${(err as Error)?.message}`);
    t.match((err as Error).message, /NATS refused the credentials/);
    t.notMatch((err as Error).message, /not-the-password/, 'the password is not in the message');
    t.ok(Date.now() - started < 20_000, `${what}: gave up in ${Date.now() - started} ms`);
  }
});

t.test('client user: commands on omoi.in.> only, events and errors, its own inbox', async (t) => {
  const nc = await open(t, clientCreds);
  const ack = await jetstream(nc).publish('omoi.in.ticket.create', '{}');
  t.equal(ack.stream, 'OMOI_IN', 'a command is stored (JetStream publish with its ack on the client inbox)');

  const before = await streamMessages('OMOI_PART');
  const violation = nextViolation(nc);
  nc.publish('omoi.part.0.ticket.create', '{}');
  const pv = await violation;
  t.equal(pv.operation, 'publish');
  t.equal(pv.subject, 'omoi.part.0.ticket.create', 'the server refuses an internal command');
  await nc.flush();
  t.equal(await streamMessages('OMOI_PART'), before, 'nothing was stored in OMOI_PART');
  for (const subject of ['omoi.in.task.complete', 'omoi.in.agent.register', 'omoi.in.agent.control_acknowledged']) {
    const asAgent = nextViolation(nc);
    nc.publish(subject, '{}');
    t.equal((await asAgent).subject, subject, `a client may not speak for an agent (${subject})`);
  }

  const events = nc.subscribe('omoi.evt.>');
  await nc.flush();
  await jetstream(node).publish('omoi.evt.test.happened', '{}');
  const got = await events[Symbol.asyncIterator]().next();
  t.equal(got.value?.subject, 'omoi.evt.test.happened', 'events are readable');

  const other = await open(t, clientCreds);
  const refused = await firstOrError(other.subscribe('_INBOX.>'));
  t.ok(refused instanceof errors.PermissionViolationError, `subscribing to _INBOX.> (the nodes' pull deliveries) is refused: ${String(refused)}`);
});

t.test('omoi pub and sub find the embedded server and its client user in the data directory', async (t) => {
  const env = { OMOI_DATA_DIR: dataDir };
  const ok = await runOmoi(['pub', '--no-validate', 'omoi.in.ticket.create', '{}'], env);
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /published to omoi\.in\.ticket\.create: stream OMOI_IN seq \d+/);
  const refused = await runOmoi(['pub', 'omoi.part.0.ticket.create', '{}'], env);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /NATS refused the publish to omoi\.part\.0\.ticket\.create.*\[nats_permission_denied\]/);
  const sub = await runOmoi(['sub', 'omoi.part.>', '--timeout', '3000'], env);
  t.equal(sub.code, 1);
  t.match(sub.stderr, /NATS refused the subscription to omoi\.part\.>/);
  const wrong = await runOmoi(['pub', '--no-validate', 'omoi.in.ticket.create', '{}'], { ...env, NATS_USER: 'omoi-client', NATS_PASSWORD: 'wrong', NATS_URL: nats.url });
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /NATS refused the credentials .*user "omoi-client".*\[nats_auth_failed\]/);
  t.notMatch(wrong.stderr, /wrong/);
});

t.test('a remote agent provisioned on the running server: its whole loop, and nothing of anyone else', async (t) => {
  const agentId = 'builder.1';
  const seedFile = path.join(dataDir, 'builder.nk');
  const added = await runOmoi(['nats-user', 'add-agent', agentId, '--out', seedFile], { OMOI_DATA_DIR: dataDir });
  t.equal(added.code, 0, added.stderr);
  t.match(added.stdout, /reloaded its users/, 'the running server reloaded');
  t.equal((await stat(seedFile)).mode & 0o777, 0o600, 'the seed file is 0600');
  t.notMatch(await readFile(NatsAuthFiles.agents(dataDir), 'utf8'), /"SU/, 'the node keeps only the public key');
  const again = await runOmoi(['nats-user', 'add-agent', 'builder', '--out', path.join(dataDir, 'x.nk')], { OMOI_DATA_DIR: dataDir });
  t.match(again.stderr, /overlap/, 'an id whose subjects would cover builder.1\'s is refused');
  for (const [id, why] of [['local-n1', /reserved_agent_id/], ['bad..id', /not a valid agent id/], [agentId, /agent_user_exists/]] as const) {
    const r = await runOmoi(['nats-user', 'add-agent', id, '--out', path.join(dataDir, `refused-${id}.nk`)], { OMOI_DATA_DIR: dataDir });
    t.equal(r.code, 1, `add-agent ${id} fails`);
    t.match(r.stderr, why);
  }
  t.equal((await readFile(NatsAuthFiles.agents(dataDir), 'utf8')).match(/"agent_id"/g)?.length, 1, 'nothing was recorded for the refused ids');

  const creds: NatsCredentials = { nkeyFile: seedFile, inboxPrefix: agentInboxPrefix(agentId) };
  // No restart: the reload takes effect by itself.
  const nc = await waitFor('the server to accept the new agent', () => open(t, creds), { timeoutMs: 10_000 });
  const js = jetstream(nc);
  t.equal((await js.publish('omoi.in.agent.register', '{}')).stream, 'OMOI_IN', 'it registers');
  await js.publish('omoi.in.task.complete', '{}');

  const jsm = await jetstreamManager(nc);
  const name = agentConsumerName(agentId);
  t.equal(name, 'builder~1');
  await jsm.consumers.add('OMOI_EVT', { durable_name: name, filter_subject: `omoi.agent.${agentId}.>`, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All });
  await jetstream(node).publish(`omoi.agent.${agentId}.assign`, '{"task":"A"}');
  const consumer = await js.consumers.get('OMOI_EVT', name);
  const msg = await consumer.next({ expires: 5_000 });
  t.equal(msg?.string(), '{"task":"A"}', 'it pulls its assignment');
  await msg!.ackAck();
  t.equal((await consumer.info()).num_ack_pending, 0, 'and acks it');
  await jetstream(node).publish(`omoi.agent.${agentId}.control`, '{"kind":"drain"}');
  const control = await consumer.next({ expires: 5_000 });
  t.equal(control?.subject, `omoi.agent.${agentId}.control`, 'it pulls its controls with the same consumer');
  await control!.ackAck();
  t.equal((await js.publish('omoi.in.agent.control_acknowledged', '{}')).stream, 'OMOI_IN', 'and acknowledges them');

  const store = await new Objm(js).open('OMOI_GIT');
  await store.putBlob({ name: 'T1/abc' }, new TextEncoder().encode('bundle'));
  t.equal(new TextDecoder().decode((await store.getBlob('T1/abc'))!), 'bundle', 'it puts and gets git bundles');
  t.equal((await store.info('T1/abc'))?.size, 6);

  // Refusals, each on a fresh connection (a violation may close a subscription or request).
  const refusedPublish = async (subject: string) => {
    const c = await open(t, creds);
    const violation = nextViolation(c);
    c.publish(subject, '{}');
    return (await violation).subject;
  };
  t.equal(await refusedPublish('omoi.in.ticket.create'), 'omoi.in.ticket.create', 'it may not create tickets');
  t.equal(await refusedPublish('omoi.part.0.task.complete'), 'omoi.part.0.task.complete', 'it may not publish internal commands');
  const otherConsumer = async (fn: (m: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<unknown>) => {
    const c = await open(t, creds);
    const m = await jetstreamManager(c, { timeout: 2_000 });
    return fn(m).then(() => 'allowed', (e: unknown) => (e as Error).name);
  };
  t.not(await otherConsumer((m) => m.consumers.add('OMOI_EVT', { durable_name: 'other', filter_subject: 'omoi.agent.other.>', ack_policy: AckPolicy.Explicit })), 'allowed', 'it may not create another agent\'s consumer');
  t.not(await otherConsumer((m) => m.consumers.add('OMOI_EVT', { durable_name: name, filter_subject: 'omoi.evt.>', ack_policy: AckPolicy.Explicit })), 'allowed', 'nor its own with another filter');
  t.not(await otherConsumer((m) => m.streams.purge('OBJ_OMOI_GIT')), 'allowed', 'nor purge the git bucket');
  const c = await open(t, creds);
  const sniffed = await firstOrError(c.subscribe('_INBOX.omoi-client.>'));
  t.ok(sniffed instanceof errors.PermissionViolationError, 'it may not read others\' inboxes');

  const removed = await runOmoi(['nats-user', 'remove-agent', agentId], { OMOI_DATA_DIR: dataDir });
  t.equal(removed.code, 0, removed.stderr);
  await waitFor('the removed agent to be refused', () => open(t, creds).then(() => false, (e: unknown) => e instanceof errors.AuthorizationError || undefined), { timeoutMs: 10_000 });
  t.pass('after remove-agent its key is refused');
});

t.test('--print-config: the users of an external server, one permission source', async (t) => {
  const r = await runOmoi(['nats-user', 'list', '--print-config'], { OMOI_DATA_DIR: dataDir });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /authorization \{\n {2}users = \[/);
  t.match(r.stdout, /user: "omoi-client", password: "<client password>", permissions: \{ publish: \{ allow: \["omoi\.in\.>"/);
  t.notMatch(r.stdout, new RegExp(auth.node.password), 'no real password');

  // Pasted into an external server's config as printed, it works.
  const external = await withNats(t, { authorization: () => r.stdout });
  const client = await connect({ servers: external.url, maxReconnectAttempts: 0, user: 'omoi-client', pass: '<client password>', inboxPrefix: CLIENT_INBOX_PREFIX });
  t.teardown(() => client.close());
  const violation = nextViolation(client);
  client.publish('omoi.part.0.ticket.create', '{}');
  t.equal((await violation).subject, 'omoi.part.0.ticket.create', 'with the same permissions');
});
