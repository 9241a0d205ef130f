import os from 'node:os';
import t from 'tap';
import { pino } from 'pino';
import { startNode } from '../../src/bootstrap.ts';
import { loadConfig } from '../../src/config/index.ts';
import { makeRepo, tempDir, waitFor, withPostgres } from '../harness/index.ts';
import { restrictedAgent } from '../harness/restricted-agent.ts';
import { sql, task, waitTask } from '../flow/helpers.ts';

// A node started the default way (no NATS_URL: its embedded nats-server with authorization)
// and a remote agent that has only the NATS user `omoi nats-user add-agent` made for it, added
// while the node runs: the agent registers, heartbeats, gets an assignment from the node on
// its own consumer, and reports on it; the node handles every report.

t.test('a provisioned remote agent runs its loop against a node on its own restricted user', async (t) => {
  const pg = await withPostgres(t);
  const dataDir = await tempDir(t, 'agent-auth', { mode: 0o755 });
  const config = loadConfig({}, {
    dataDir, databaseUrl: pg.url, httpPort: 0, partitions: 2, logLevel: 'silent', heartbeatMs: 500, ackWaitMs: 5_000,
    nodeId: 'auth-node', apiToken: 'test-token', sandboxWritable: [os.tmpdir()],
  });
  const node = await startNode(config, { log: pino({ level: process.env.OMOI_TEST_LOG ?? 'silent' }) });
  t.teardown(() => node.stop());
  t.equal(config.natsUrl, undefined, 'no NATS_URL: the embedded server');

  const agentId = 'remote.agent-1';
  const { send, consumer } = await restrictedAgent(t, node, agentId, ['remote-only']);

  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'AUTH1', title: 'remote agent with its own NATS user', repository: repo.dir, base_branch: 'main',
    tasks: [task('A', 'true', { capabilities: ['remote-only'] })],
  });
  const msg = await waitFor('an assignment', () => consumer.next({ expires: 2_000 }).then((m) => m ?? undefined));
  const assignment = msg.json<{ ticket_id: string; task_id: string; attempt: number }>();
  t.match(assignment, { ticket_id: 'AUTH1', task_id: 'A', attempt: 1 }, 'the node assigned the task on the agent\'s subject');
  await msg.ackAck();

  const ref = { ticket_id: 'AUTH1', task_id: 'A', attempt: 1 };
  await send('task.started', ref);
  await waitTask(node, 'AUTH1', 'A', 'running');
  await send('task.fail', { ...ref, error: 'failed on purpose', retryable: false });
  const row = await waitTask(node, 'AUTH1', 'A', 'failed');
  t.equal(row.agent_id, agentId, 'the node took the report of the agent that ran it');
  t.match(row.reason, /failed on purpose/);
  t.same(await sql(node, `select code from omoi_dead_letter`), [], 'no report was refused, not even a heartbeat that came before the registration was applied');
});
