import { spawn } from 'node:child_process';
import t from 'tap';
import { withCluster, withClient, withNode } from '../harness/node.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import type { Envelope } from '../../src/protocol/index.ts';

t.test('kill -9 between commit and ack: the redelivery is handled idempotently and the event is published once', async (t) => {
  const cluster = await withCluster(t);
  const client = await withClient(t, cluster);
  const seen: Envelope<any>[] = [];
  const sub = client.subscribe('omoi.evt.ticket.created', { callback: (_e, m) => { seen.push(m.json()); } });
  t.teardown(() => sub.unsubscribe());

  // A node in its own process that SIGKILLs itself right after committing a ticket.create.
  const dataDir = await tempDir(t, 'omoi-crash-');
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/run-node.ts'], {
    env: {
      ...process.env, DATABASE_URL: cluster.databaseUrl, NATS_URL: cluster.nats.url, OMOI_DATA_DIR: dataDir, OMOI_HTTP_PORT: '0',
      OMOI_PARTITIONS: '4', OMOI_HEARTBEAT_MS: '300', OMOI_ACK_WAIT_MS: '3000', OMOI_NODE_ID: 'doomed', OMOI_LOG_LEVEL: 'error',
      OMOI_API_TOKEN: 'x', OMOI_FAILPOINT: 'after-commit:ticket.create',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, signal) => r(signal)));
  await waitFor('child node ready', () => out.includes('READY'), { timeoutMs: 60_000 });

  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  client.publish('omoi.in.ticket.create', JSON.stringify({ ticket_id: 'T-crash', title: 'crash', repository: repo.dir, tasks: [{ id: 'A', run: 'true' }] }));
  const signal = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 60_000))]);
  if (signal !== 'SIGKILL') child.kill('SIGKILL');
  t.equal(signal, 'SIGKILL', 'the node died by SIGKILL after the commit');
  const node = await withNode(t, cluster, { heartbeatMs: 300, ackWaitMs: 3_000 });
  const conn = node.db.em().getConnection();
  const [{ n: committed }] = await conn.execute(`select count(*)::int as n from omoi_ticket where id = 'T-crash'`);
  t.equal(committed, 1, 'the state change was committed before the crash');

  // The new node takes the dead node's partitions once its leases expire, republishes the
  // outbox, and receives the unacked message again: already processed → acked, ignored.
  await waitFor('event published after takeover', () => seen.find((e) => e.payload.ticket_id === 'T-crash'), { timeoutMs: 30_000 });
  await new Promise((r) => setTimeout(r, 4_000)); // past ack_wait: any redelivery has happened
  await node.idle();
  t.equal(seen.filter((e) => e.payload.ticket_id === 'T-crash').length, 1, 'exactly one ticket.created reached subscribers');
  const [{ n: events }] = await conn.execute(`select count(*)::int as n from omoi_event where type = 'ticket.created' and ticket_id = 'T-crash'`);
  t.equal(events, 1, 'exactly one event in the log');
  const [{ n: dead }] = await conn.execute(`select count(*)::int as n from omoi_dead_letter`);
  t.equal(dead, 0, 'the redelivery was not an error');
});
