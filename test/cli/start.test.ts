import t from 'tap';
import { withCluster } from '../harness/node.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { childPids, runOmoi, spawnOmoi, stillRunning } from './run-omoi.ts';

const ticket = (repository: string) => ({
  ticket_id: 'CLI1', title: 'from the cli', repository, base_branch: 'main',
  tasks: [{ id: 'A', run: 'true' }],
});

t.test('omoi start against a cluster; pub, sub, status and dlq against it; SIGTERM stops it cleanly', async (t) => {
  const cluster = await withCluster(t);
  const dataDir = await tempDir(t, 'cli-start');
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const nodeEnv = {
    DATABASE_URL: cluster.databaseUrl, NATS_URL: cluster.nats.url, OMOI_DATA_DIR: dataDir, OMOI_HTTP_PORT: '0',
    OMOI_PARTITIONS: '4', OMOI_NODE_ID: 'cli-node', OMOI_LOG_LEVEL: 'warn', OMOI_HEARTBEAT_MS: '500', OMOI_SHUTDOWN_GRACE_MS: '5000',
  };
  const node = spawnOmoi(t, ['start'], nodeEnv);

  const line = await node.line(/^omoi: node /, 'the start line');
  const url = /· http (http:\/\/\S+) ·/.exec(line)?.[1];
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/, 'the start line gives the HTTP URL');
  t.not(new URL(url!).port, '0', 'with the real port, not the configured 0');
  t.ok(line.includes('node cli-node started'), 'names the node');
  t.ok(line.includes(`API token in ${dataDir}/api-token`), 'says where the API token is');
  t.ok(line.includes(`watch events: omoi sub 'omoi.evt.>'`), 'says how to watch');
  t.notMatch(line, /--nats-url/, 'no NATS hint when NATS_URL is configured');

  const ready = await fetch(`${url}/readyz`);
  t.equal(ready.status, 200, '/readyz answers 200');
  const childrenWhileRunning = await childPids(node.pid);

  await t.test('omoi status reports the node, its partitions and tickets', async (t) => {
    const r = await runOmoi(['status', '--url', url!], { OMOI_DATA_DIR: dataDir });
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^node +cli-node at http:\/\/127\.0\.0\.1:\d+: ready$/m);
    t.match(r.stdout, /^checks +database ok .*nats ok .*partitions ok/m);
    t.match(r.stdout, /^cli-node +up +4 +\d+\.\ds ago /m, 'the node holds the 4 partitions; its last heartbeat was moments ago');
    t.match(r.stdout, /^lag +\d+ messages waiting/m, 'the consumers\' lag');
    t.match(r.stdout, /^alerts +\d+ open/m, 'the open alerts');
    const wrongToken = await runOmoi(['status', '--url', url!], { OMOI_API_TOKEN: 'wrong' });
    t.equal(wrongToken.code, 1);
    t.match(wrongToken.stderr, /refused the API token/);
  });

  await t.test('omoi pub of invalid input: an error naming the problem, nothing sent', async (t) => {
    const notJson = await runOmoi(['pub', 'omoi.in.ticket.create', '{"ticket_id": "X",'], { NATS_URL: cluster.nats.url });
    t.equal(notJson.code, 1);
    t.match(notJson.stderr, /^omoi: invalid message for omoi\.in\.ticket\.create: body is not JSON: .*\[malformed_json\]/);
    const missing = await runOmoi(['pub', 'omoi.in.ticket.create', JSON.stringify({ ...ticket(repo.dir), tasks: [{ id: 'A' }] })], { NATS_URL: cluster.nats.url });
    t.equal(missing.code, 1);
    t.match(missing.stderr, /\/payload\/tasks\/0\/run: .*\[schema_violation\]/, 'names the field');
    t.notMatch(missing.stderr, /^\s+at /m, 'no stack trace');
  });

  await t.test('omoi pub of a ticket.create → omoi sub prints the ticket.created event', async (t) => {
    const sub = spawnOmoi(t, ['sub', 'omoi.evt.ticket.created', '--count', '1', '--timeout', '60000'], { NATS_URL: cluster.nats.url });
    await sub.line(/^omoi: listening on omoi\.evt\.ticket\.created/, 'the subscription');
    const pub = await runOmoi(['pub', 'omoi.in.ticket.create', JSON.stringify(ticket(repo.dir)), '--id', 'cli-create-1'], { NATS_URL: cluster.nats.url });
    t.equal(pub.code, 0, pub.stderr);
    t.match(pub.stdout, /^published to omoi\.in\.ticket\.create: stream OMOI_IN seq \d+$/m, 'stored by JetStream');
    const again = await runOmoi(['pub', 'omoi.in.ticket.create', JSON.stringify(ticket(repo.dir)), '--id', 'cli-create-1'], { NATS_URL: cluster.nats.url });
    t.match(again.stdout, /duplicate/, 'the same --id is recognised as a duplicate');
    t.same(await sub.exited, { code: 0, signal: null }, 'sub exits after --count messages');
    const lines = sub.stdout().trim().split('\n');
    t.equal(lines.length, 1, 'one JSON line');
    const message = JSON.parse(lines[0]!);
    t.equal(message.subject, 'omoi.evt.ticket.created');
    t.equal(message.data.type, 'ticket.created');
    t.same(message.data.payload, { ticket_id: 'CLI1', title: 'from the cli', tasks: ['A'], joins: [] });
  });

  await t.test('bad input sent on purpose is dead-lettered; omoi dlq lists, shows, retries and discards it', async (t) => {
    const errors = spawnOmoi(t, ['sub', 'omoi.errors.>', '--pretty', '--count', '1', '--timeout', '60000'], { NATS_URL: cluster.nats.url });
    await errors.line(/^omoi: listening on omoi\.errors\.>/, 'the error subscription');
    const sent = await runOmoi(['pub', '--no-validate', 'omoi.in.task.complete', '{"ticket_id": oops}'], { NATS_URL: cluster.nats.url });
    t.equal(sent.code, 0, sent.stderr);
    t.same(await errors.exited, { code: 0, signal: null });
    t.match(errors.stdout(), /^\d\d:\d\d:\d\d\.\d{3} error\.rejected code=malformed_json reason="body is not JSON: /m, 'a pretty error line');
    const id = Number(/dead_letter_id=(\d+)/.exec(errors.stdout())?.[1]);
    t.ok(id > 0, 'the event names the dead letter');

    const dbEnv = { DATABASE_URL: cluster.databaseUrl, NATS_URL: cluster.nats.url };
    const list = await runOmoi(['dlq', 'list'], dbEnv);
    t.equal(list.code, 0, list.stderr);
    t.match(list.stdout, new RegExp(`^${id} +open +malformed_json +omoi\\.in\\.task\\.complete `, 'm'));
    const show = await runOmoi(['dlq', 'show', String(id)], dbEnv);
    t.match(show.stdout, /^body:\n\{"ticket_id": oops\}$/m, 'the original body, as received');

    const retry = await runOmoi(['dlq', 'retry', String(id)], dbEnv);
    t.equal(retry.code, 0, retry.stderr);
    t.match(retry.stdout, `dead letter ${id} republished to omoi.in.task.complete`);
    // Republished, it is validated again and rejected again: a new dead letter.
    const again = await waitFor('the retried message dead-lettered again', async () => {
      const r = await runOmoi(['dlq', 'list', '--json'], dbEnv);
      const rows = JSON.parse(r.stdout) as Array<{ id: number; code: string }>;
      return rows.find((row) => row.id > id && row.code === 'malformed_json');
    });
    const retried = await runOmoi(['dlq', 'retry', String(id)], dbEnv);
    t.equal(retried.code, 1, 'a retried dead letter cannot be retried twice');
    t.match(retried.stderr, `dead letter ${id} is already retried`);

    const discard = await runOmoi(['dlq', 'discard', String(again.id)], dbEnv);
    t.equal(discard.code, 0, discard.stderr);
    const discarded = await runOmoi(['dlq', 'list', '--status', 'discarded'], dbEnv);
    t.match(discarded.stdout, new RegExp(`^${again.id} +discarded `, 'm'));
    const open = JSON.parse((await runOmoi(['dlq', 'list', '--json'], dbEnv)).stdout) as Array<{ id: number }>;
    t.same(open.filter((row) => row.id === id || row.id === again.id), [], 'neither is open any more');
    const none = await runOmoi(['dlq', 'list', '--status', 'retried', '--limit', '1'], { ...dbEnv, OMOI_DATA_DIR: dataDir });
    t.match(none.stdout, new RegExp(`^${id} +retried `, 'm'));
    const missing = await runOmoi(['dlq', 'show', '999999'], dbEnv);
    t.equal(missing.code, 1);
    t.match(missing.stderr, 'dead letter 999999 does not exist');
  });

  node.child.kill('SIGTERM');
  const exit = await node.exited;
  t.same(exit, { code: 0, signal: null }, 'SIGTERM: a graceful stop, exit 0');
  t.match(node.stderr(), /SIGTERM: stopping the node gracefully/);
  t.same(await stillRunning(childrenWhileRunning), [], `no child process left (had ${childrenWhileRunning.join(', ') || 'none'})`);
});

t.test('omoi dlq without DATABASE_URL and no running embedded node says what to do', async (t) => {
  const dataDir = await tempDir(t, 'cli-dlq');
  const r = await runOmoi(['dlq', 'list'], { OMOI_DATA_DIR: dataDir });
  t.equal(r.code, 1);
  t.match(r.stderr, `omoi: DATABASE_URL is unset and ${dataDir}/database-url does not exist`);
  t.match(r.stderr, /reachable only while it runs/);
});

t.test('omoi status with no node answering says so', async (t) => {
  const r = await runOmoi(['status', '--url', 'http://127.0.0.1:9']);
  t.equal(r.code, 1);
  t.match(r.stderr, /^omoi: no node answering at http:\/\/127\.0\.0\.1:9: is `omoi start` running\?/);
});
