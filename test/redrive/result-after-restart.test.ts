import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import t from 'tap';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { startChildNode } from '../harness/child-node.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { encodeCommand } from '../../src/executor/index.ts';
import { openDatabase } from '../../src/persistence/index.ts';

// A result reported while NATS was down is kept in the outbox; the node then dies (kill -9).
// After NATS and a node come back, the kept result is delivered: the attempt is not failed as
// lost and run again.
const cluster = await withCluster(t);
const db = await openDatabase(cluster.databaseUrl, pino({ level: 'silent' }));
t.teardown(() => db.close());
const sql = async <T = any>(q: string, params: unknown[] = []) => (await db.em().getConnection().execute(q, params)) as T[];

// First, while no killed node's leases linger in the database.
t.test('agent.wake does not fail an attempt as lost while its result is kept in the outbox', async (t) => {
  const node = await withNode(t, cluster);
  const flags = await tempDir(t, 'flags');
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'W1', title: 'wake', repository: repo.dir, base_branch: 'main',
    tasks: [{ id: 'X', run: `echo X >> ${flags}/effects; while [ ! -f ${flags}/go ]; do sleep 0.05; done; echo x > x.txt`, owns: ['x.txt'] }],
  });
  await waitFor('X running', async () => (await sql(`select status from omoi_task where ticket_id = 'W1' and id = 'X'`))[0]?.status === 'running', { timeoutMs: 60_000 });
  // Its result, as a process that then died would have kept it (in a partition no node sweeps,
  // so it stays there while the wake is handled).
  await sql(`insert into omoi_outbox (message_id, subject, body, partition, created_at) values ('task-result:W1:X:1', 'unused', '{}', 999, now())`);
  t.teardown(() => sql(`delete from omoi_outbox where partition = 999`));
  // Recovery of another node that does not run it: the attempt is not live there.
  const agent = `local-${node.config.nodeId}`;
  const wake = encodeCommand('agent.wake', { agent_id: agent, live: [] }, `agent-wake:${agent}:test`, node.config.partitions, 'test');
  await node.js.publish(wake.subject, wake.body, { msgID: `agent-wake:${agent}:test` });
  await waitFor('the wake handled', async () => (await sql(`select * from omoi_processed_message where message_id = ?`, [`agent-wake:${agent}:test`])).length === 1);
  // What the wake sent (ids `<wake id>/<n>`) reaches the ticket's partition within moments.
  await sleep(1_000);
  await node.idle();
  t.same(await sql(`select message_id from omoi_processed_message where message_id like ?`, [`agent-wake:${agent}:test/%`]), [], 'the wake sent no task.fail');
  await writeFile(`${flags}/go`, '');
  await waitFor('W1 completed', async () => (await sql(`select status from omoi_ticket where id = 'W1'`))[0]?.status === 'completed', { timeoutMs: 60_000 });
  t.equal((await sql(`select attempt from omoi_task where ticket_id = 'W1' and id = 'X'`))[0].attempt, 1, 'not failed as lost: attempt 1 completed');
  t.same(await sql(`select * from omoi_event where ticket_id = 'W1' and payload->>'reason' like '%agent_lost%'`), [], 'no agent_lost');
});

t.test('a result kept in the outbox outlives its node', async (t) => {
  const dataDir = await tempDir(t, 'node');
  const flags = await tempDir(t, 'flags');
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  let child = await startChildNode(t, cluster, dataDir, 'kept-1');
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: cluster.nats.url });
  nc.publish('omoi.in.ticket.create', JSON.stringify({
    ticket_id: 'K1', title: 'kept result', repository: repo.dir, base_branch: 'main',
    // It changes no file: its result needs no bundle in the object store, which is away with NATS
    // (a task that made a commit waits for NATS before it reports: src/executor/local-executor.ts).
    tasks: [{ id: 'X', run: `echo X >> ${flags}/effects; while [ ! -f ${flags}/go ]; do sleep 0.05; done`, owns: ['x.txt'] }],
  }));
  await nc.flush();
  await nc.close();
  await waitFor('X running', async () => (await sql(`select status from omoi_task where ticket_id = 'K1' and id = 'X'`))[0]?.status === 'running', { timeoutMs: 60_000 });

  cluster.nats.kill9();
  await writeFile(`${flags}/go`, '');
  await waitFor('the result kept in the outbox', async () => (await sql(`select * from omoi_outbox where message_id = 'task-result:K1:X:1'`)).length === 1, { timeoutMs: 60_000 });
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;

  await cluster.nats.restart();
  child = await startChildNode(t, cluster, dataDir, 'kept-2');
  await waitFor('K1 completed', async () => (await sql(`select status from omoi_ticket where id = 'K1'`))[0]?.status === 'completed', { timeoutMs: 60_000 });
  const x = (await sql(`select attempt, status from omoi_task where ticket_id = 'K1' and id = 'X'`))[0];
  t.equal(x.attempt, 1, 'the attempt that ran is the one that completed');
  t.equal((await readFile(`${flags}/effects`, 'utf8')).trim(), 'X', 'the task ran once');
  t.same(await sql(`select * from omoi_outbox where message_id = 'task-result:K1:X:1'`), [], 'the kept result was delivered and deleted');
});
