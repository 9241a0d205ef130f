import os from 'node:os';
import t from 'tap';
import { pino } from 'pino';
import { startNode } from '../../src/bootstrap.ts';
import { loadConfig } from '../../src/config/index.ts';
import { makeRepo, tempDir, waitFor, withPostgres } from '../harness/index.ts';
import { restrictedAgent } from '../harness/restricted-agent.ts';
import { sql, task, waitTask, waitTicket } from '../flow/helpers.ts';

// Cancelling work a remote agent runs: the stop goes to the agent on `omoi.agent.<id>.stop`, its
// slot stays taken until the agent acknowledges (a signed `agent.stop_acknowledged`, allowed by
// its restricted NATS user), then it is free and the next task gets it. A stop never
// acknowledged frees the slot after OMOI_STOP_ACK_TIMEOUT_MS, with an `agent.stopped` event saying so.
// Who cancelled, and why, is on the task.

type Agent = { id: string; running: string[]; stopping: Array<{ key: string }>; status: string };

t.test('a remote agent acknowledges a stop: its slot is held until then, then freed; an unacknowledged stop times out', async (t) => {
  const pg = await withPostgres(t);
  const dataDir = await tempDir(t, 'remote-cancel', { mode: 0o755 });
  const config = loadConfig({}, {
    dataDir, databaseUrl: pg.url, httpPort: 0, partitions: 2, logLevel: 'silent', heartbeatMs: 500, ackWaitMs: 5_000,
    nodeId: 'cancel-node', apiToken: 'test-token', sandboxWritable: [os.tmpdir()], stopAckTimeoutMs: 4_000,
  });
  const node = await startNode(config, { log: pino({ level: process.env.OMOI_TEST_LOG ?? 'silent' }) });
  t.teardown(() => node.stop());

  const agentId = 'remote-canceller';
  const { send, consumer } = await restrictedAgent(t, node, agentId, ['remote-only']);
  const next = async (what: string) => {
    const msg = await waitFor(what, () => consumer.next({ expires: 2_000 }).then((m) => m ?? undefined));
    await msg.ackAck();
    return { subject: msg.subject, payload: msg.json<Record<string, unknown>>() };
  };
  const agentRow = async () => (await sql<Agent>(node, 'select id, running, stopping, status from omoi_agent where id = ?', [agentId]))[0]!;
  const api = (method: string, url: string) => fetch(`${node.httpUrl}${url}`, { method, headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' }, body: method === 'POST' ? JSON.stringify({ reason: 'wrong approach' }) : undefined });

  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  // A long task (the agent would work on it for minutes), and a second ticket waiting for the slot.
  await node.submit('ticket.create', {
    ticket_id: 'LONG', title: 'long', repository: repo.dir, ownership: 'strict',
    tasks: [task('A', 'sleep 600', { capabilities: ['remote-only'], owns: ['src/**'], timeout_ms: 600_000 })],
  });
  const assigned = await next('the assignment');
  t.match(assigned, { subject: `omoi.agent.${agentId}.assign`, payload: { ticket_id: 'LONG', task_id: 'A', attempt: 1 } });
  const ref = { ticket_id: 'LONG', task_id: 'A', attempt: 1 };
  await send('task.started', ref);
  await send('task.progress', { ...ref, message: 'compiling', percent: 5 });
  await waitFor('the signed progress report to be recorded', async () => (await sql<{ progress_at: Date | null }>(node, `select progress_at from omoi_task where ticket_id = 'LONG'`))[0]?.progress_at ?? undefined);
  t.same(await sql(node, `select globs from omoi_file_claim where ticket_id = 'LONG'`), [{ globs: ['src/**'] }], 'it holds its claims');

  // Cancelled over HTTP: the stop reaches the agent; the slot stays taken until it acknowledges.
  t.equal((await api('POST', '/api/tickets/LONG/cancel')).status, 202);
  await waitTicket(node, 'LONG', 'cancelled');
  const stop = await next('the stop');
  t.match(stop, { subject: `omoi.agent.${agentId}.stop`, payload: { agent_id: agentId, ticket_id: 'LONG', task_id: 'A', attempt: 1 } });
  t.same(await sql(node, `select globs from omoi_file_claim where ticket_id = 'LONG'`), [], 'its claims are released');
  const detail = await (await api('GET', '/api/tickets/LONG')).json() as { tasks: Array<Record<string, unknown>> };
  t.match(detail.tasks[0], { id: 'A', status: 'cancelled', reason: /wrong approach/, cancelled_by: 'http:admin' }, 'the task API says who cancelled it and why');

  await node.submit('ticket.create', {
    ticket_id: 'NEXT', title: 'next', repository: repo.dir, tasks: [task('B', 'true', { capabilities: ['remote-only'] })],
  });
  await waitTask(node, 'NEXT', 'B', 'ready');
  await new Promise((r) => setTimeout(r, 1_500));
  const pending = await agentRow();
  t.same(pending.running, ['LONG/A/1'], 'the cancelled attempt still holds the agent\'s only slot');
  t.same(pending.stopping.map((s) => s.key), ['LONG/A/1'], 'its stop is listed as pending');
  t.equal((await sql<{ status: string }>(node, `select status from omoi_task where ticket_id = 'NEXT'`))[0]!.status, 'ready', 'so the next task waits');

  await send('agent.stop_acknowledged', { agent_id: agentId, ...ref });
  await waitFor('the slot to be freed', async () => ((await agentRow()).running.length === 0) || undefined);
  t.same((await agentRow()).stopping, []);
  const acked = await sql<{ payload: any }>(node, `select payload from omoi_event where type = 'agent.stopped'`);
  t.match(acked, [{ payload: { agent_id: agentId, ticket_id: 'LONG', task_id: 'A', attempt: 1, outcome: 'acknowledged' } }]);
  const second = await next('the next assignment, once the slot is free');
  t.match(second.payload, { ticket_id: 'NEXT', task_id: 'B', attempt: 1 });

  // A stop the agent never acknowledges: the slot is freed after the timeout, an event says so.
  await node.submit('task.cancel', { ticket_id: 'NEXT', task_id: 'B', reason: 'not needed' });
  t.match(await next('the second stop'), { subject: `omoi.agent.${agentId}.stop`, payload: { ticket_id: 'NEXT', task_id: 'B' } });
  t.same((await agentRow()).running, ['NEXT/B/1'], 'held while the acknowledgement is awaited');
  await waitFor('the overdue stop to free the slot', async () => ((await agentRow()).running.length === 0) || undefined, { timeoutMs: 20_000 });
  const overdue = await sql<{ payload: any }>(node, `select payload from omoi_event where type = 'agent.stopped' and payload->>'outcome' = 'unacknowledged'`);
  t.match(overdue, [{ payload: { ticket_id: 'NEXT', task_id: 'B', attempt: 1 } }]);
  t.ok(overdue[0]!.payload.waited_ms >= 4_000, 'after the acknowledgement timeout');
  t.equal((await agentRow()).status, 'healthy', 'its health is left to its heartbeats');
  t.equal((await sql<{ cancelled_by: string }>(node, `select cancelled_by from omoi_task where ticket_id = 'NEXT'`))[0]!.cancelled_by, 'cancel-node', 'a node\'s own cancel names the node');
  t.same(await sql(node, `select code from omoi_dead_letter`), [], 'no signed message was refused');
});
