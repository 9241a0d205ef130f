import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { randomUUID } from 'node:crypto';
import { connect, headers } from '@nats-io/transport-node';
import { pino } from 'pino';
import { startNode } from '../../src/bootstrap.ts';
import { loadConfig } from '../../src/config/index.ts';
import { connectOptionsOf } from '../../src/messaging/nats-credentials.ts';
import { agentConsumerName, agentInboxPrefix } from '../../src/messaging/nats-permissions.ts';
import { generateAgentKeyPair } from '../../src/http/agent-keys.ts';
import { signAgentMessage } from '../../src/protocol/index.ts';
import { makeRepo, tempDir, waitFor, withPostgres } from '../harness/index.ts';
import { sql, task, waitTask } from '../flow/helpers.ts';
import { runOmoi } from '../cli/run-omoi.ts';

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
  const seed = path.join(dataDir, 'agent.nk');
  const added = await runOmoi(['nats-user', 'add-agent', agentId, '--out', seed], { OMOI_DATA_DIR: dataDir });
  t.equal(added.code, 0, added.stderr);

  const url = `nats://${node.nc.getServer()}`;
  const nc = await waitFor('the node\'s server to accept the agent', () => connect({
    servers: url, maxReconnectAttempts: 0, ...connectOptionsOf({ nkeyFile: seed, inboxPrefix: agentInboxPrefix(agentId) }),
  }), { timeoutMs: 10_000 });
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  // Every report signed with the agent's key (docs/protocol.md, Signing).
  const keys = generateAgentKeyPair();
  const send = (type: string, payload: Record<string, unknown>) => {
    const subject = `omoi.in.${type}`;
    const body = Buffer.from(JSON.stringify(payload));
    const h = headers();
    for (const [k, v] of Object.entries(signAgentMessage({ subject, body, msgId: randomUUID(), agentId, privateKey: keys.privateKey }))) h.set(k, v);
    return js.publish(subject, body, { headers: h });
  };

  // Heartbeats start at once: one that overtakes the registration is retried, not refused.
  await send('agent.register', { agent_id: agentId, name: 'restricted agent', phase: 'execute', capabilities: ['remote-only'], version: '1.0.0', kind: 'remote', capacity: 1, public_key: keys.publicKey });
  const beat = setInterval(() => void send('agent.heartbeat', { agent_id: agentId }).catch(() => undefined), 300);
  t.teardown(() => clearInterval(beat));
  const name = agentConsumerName(agentId);
  await (await jetstreamManager(nc)).consumers.add('OMOI_EVT', {
    durable_name: name, filter_subject: `omoi.agent.${agentId}.>`, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
  });
  await waitFor('the agent to be healthy', async () => (await sql<{ status: string }>(node, 'select status from omoi_agent where id = ?', [agentId]))[0]?.status === 'healthy');

  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'AUTH1', title: 'remote agent with its own NATS user', repository: repo.dir, base_branch: 'main',
    tasks: [task('A', 'true', { capabilities: ['remote-only'] })],
  });
  const consumer = await js.consumers.get('OMOI_EVT', name);
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
