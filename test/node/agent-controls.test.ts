import os from 'node:os';
import t from 'tap';
import { pino } from 'pino';
import { startNode } from '../../src/bootstrap.ts';
import { loadConfig } from '../../src/config/index.ts';
import { agentOfNode } from '../../src/actors/local-agent.ts';
import { makeRepo, tempDir, waitFor, withPostgres } from '../harness/index.ts';
import { restrictedAgent } from '../harness/restricted-agent.ts';
import { sql, task, waitTask } from '../flow/helpers.ts';

// Agent control channels: drain, undrain, shutdown and broadcast reach a remote agent on
// `omoi.agent.<id>.control` (its restricted NATS user reads them with its own consumer), it
// acknowledges drain and shutdown (a signed `agent.control_acknowledged`), and the acknowledgement
// is visible in `GET /api/agents/:id`. A drained agent keeps its attempt and gets no new one; a
// shut-down one is removed (reason `shutdown`) once its attempt ends; an unacknowledged drain
// turns overdue visibly. The node's own agent obeys the same controls (its node acknowledges).

type Control = { control_id: string; kind: string; status: string; acknowledged_at?: string; overdue_at?: string };
type Agent = { id: string; status: string; reason: string | null; draining: boolean; shutting_down: boolean; running: string[]; controls: Control[] };

t.test('a drained agent: told on its control subject, acknowledges, keeps its attempt, gets nothing new; undrain, shutdown, broadcast, an overdue drain', async (t) => {
  const pg = await withPostgres(t);
  const dataDir = await tempDir(t, 'agent-controls', { mode: 0o755 });
  const config = loadConfig({}, {
    dataDir, databaseUrl: pg.url, httpPort: 0, partitions: 2, logLevel: 'silent', heartbeatMs: 500, ackWaitMs: 5_000,
    nodeId: 'control-node', apiToken: 'test-token', sandboxWritable: [os.tmpdir()], stopAckTimeoutMs: 3_000,
  });
  const node = await startNode(config, { log: pino({ level: process.env.OMOI_TEST_LOG ?? 'silent' }) });
  t.teardown(() => node.stop());
  const local = agentOfNode(config.nodeId);

  const a = await restrictedAgent(t, node, 'ctl-a', ['ctl']);
  const b = await restrictedAgent(t, node, 'ctl-b', ['other']);
  const next = async (agent: typeof a, what: string) => {
    const msg = await waitFor(what, () => agent.consumer.next({ expires: 2_000 }).then((m) => m ?? undefined));
    await msg.ackAck();
    return { subject: msg.subject, payload: msg.json<Record<string, any>>() };
  };
  const nothingFor = async (agent: typeof a) => {
    const msg = await agent.consumer.next({ expires: 1_500 });
    if (msg) await msg.ackAck();
    return msg ? msg.subject : null;
  };
  const row = async (id: string) => (await sql<Agent>(node, 'select id, status, reason, draining, shutting_down, running, controls from omoi_agent where id = ?', [id]))[0]!;
  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${node.httpUrl}${url}`, { method, headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: await res.json() as any };
  };
  const control = async (id: string, controlId: string) => (await row(id)).controls.find((c) => c.control_id === controlId);

  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', { ticket_id: 'FIRST', title: 'first', repository: repo.dir, tasks: [task('A', 'sleep 600', { capabilities: ['ctl'], timeout_ms: 600_000 })] });
  t.match(await next(a, 'the first assignment'), { subject: 'omoi.agent.ctl-a.assign', payload: { ticket_id: 'FIRST', task_id: 'A', attempt: 1 } });
  await a.send('task.started', { ticket_id: 'FIRST', task_id: 'A', attempt: 1 });
  await waitTask(node, 'FIRST', 'A', 'running');

  // Drain: the agent is told on its control subject, and asked to acknowledge.
  const drained = await api('POST', '/api/agents/ctl-a/drain', { reason: 'host maintenance' });
  t.equal(drained.status, 202);
  const drain = await next(a, 'the drain control');
  t.match(drain, { subject: 'omoi.agent.ctl-a.control', payload: { agent_id: 'ctl-a', kind: 'drain', control_id: drained.json.message_id, ack: true, reason: 'host maintenance', sent_by: /admin/ } });
  t.match(await control('ctl-a', drained.json.message_id), { kind: 'drain', status: 'awaiting_ack' }, 'awaiting its acknowledgement');
  await a.send('agent.control_acknowledged', { agent_id: 'ctl-a', control_id: drain.payload.control_id });
  await waitFor('the acknowledgement to be recorded', async () => (await control('ctl-a', drained.json.message_id))?.status === 'acknowledged' || undefined);
  const detail = await api('GET', '/api/agents/ctl-a');
  t.match(detail.json.agent, { draining: true, controls: [{ control_id: drained.json.message_id, kind: 'drain', status: 'acknowledged', acknowledged_at: String }] }, 'GET /api/agents/:id shows the acknowledged drain');

  // While draining: a new ticket's task is not offered to it; its running attempt completes.
  await node.submit('ticket.create', { ticket_id: 'SECOND', title: 'second', repository: repo.dir, tasks: [task('B', 'true', { capabilities: ['ctl'] })] });
  await waitTask(node, 'SECOND', 'B', 'ready');
  t.equal(await nothingFor(a), null, 'no assignment for a draining agent');
  t.equal((await sql<{ status: string }>(node, `select status from omoi_task where ticket_id = 'SECOND'`))[0]!.status, 'ready', 'the new task waits');
  await a.send('task.complete', { ticket_id: 'FIRST', task_id: 'A', attempt: 1, result: { by: 'ctl-a' } });
  await waitTask(node, 'FIRST', 'A', 'completed');
  await waitFor('its slot to be freed', async () => (await row('ctl-a')).running.length === 0 || undefined);
  t.match(await row('ctl-a'), { draining: true, running: [] }, 'its running attempt finished while it drained');
  t.equal(await nothingFor(a), null, 'still nothing new');

  // Undrain: told (no acknowledgement asked), and it gets work again.
  const undrained = await api('POST', '/api/agents/ctl-a/undrain', {});
  t.equal(undrained.status, 202);
  const seen = [await next(a, 'the undrain control'), await next(a, 'the waiting task')];
  t.match(seen.find((m) => m.subject.endsWith('.control')), { payload: { kind: 'undrain', ack: false, control_id: undrained.json.message_id } });
  t.match(seen.find((m) => m.subject.endsWith('.assign')), { payload: { ticket_id: 'SECOND', task_id: 'B', attempt: 1 } }, 'undrained: the waiting task is assigned to it');
  t.match(await control('ctl-a', undrained.json.message_id), { kind: 'undrain', status: 'sent' });
  await a.send('task.started', { ticket_id: 'SECOND', task_id: 'B', attempt: 1 });
  await waitTask(node, 'SECOND', 'B', 'running');

  // Shutdown: drained and told; acknowledged; removed (reason shutdown) once its attempt ends.
  const shut = await api('POST', '/api/agents/ctl-a/shutdown', { reason: 'host retired' });
  t.equal(shut.status, 202);
  t.match(await next(a, 'the shutdown control'), { subject: 'omoi.agent.ctl-a.control', payload: { kind: 'shutdown', ack: true, control_id: shut.json.message_id, reason: 'host retired' } });
  await a.send('agent.control_acknowledged', { agent_id: 'ctl-a', control_id: shut.json.message_id });
  await waitFor('the shutdown acknowledged', async () => (await control('ctl-a', shut.json.message_id))?.status === 'acknowledged' || undefined);
  t.match(await row('ctl-a'), { status: 'healthy', draining: true, shutting_down: true, running: ['SECOND/B/1'] }, 'still there while its attempt runs');
  const refused = await api('POST', '/api/agents/ctl-a/undrain', {});
  t.equal(refused.status, 202, 'an undrain is accepted for the actor to judge');
  const refusal = await waitFor('the undrain of a shutting-down agent to be refused', async () =>
    (await sql<{ code: string }>(node, 'select code from omoi_dead_letter where message_id = ?', [refused.json.message_id]))[0]);
  t.equal(refusal.code, 'agent_shutting_down', 'a shutting-down agent cannot be undrained');
  // Its last attempt ends: the agent stops heartbeating, reports it and exits.
  a.stopHeartbeats();
  await a.send('task.complete', { ticket_id: 'SECOND', task_id: 'B', attempt: 1, result: {} });
  await waitTask(node, 'SECOND', 'B', 'completed');
  await waitFor('the agent removed', async () => (await row('ctl-a')).status === 'removed' || undefined);
  t.match(await row('ctl-a'), { status: 'removed', reason: 'shutdown', running: [] });
  t.ok((await sql(node, `select 1 from omoi_event where type = 'agent.status' and payload->>'agent_id' = 'ctl-a' and payload->>'status' = 'removed' and payload->>'reason' = 'shutdown'`)).length === 1, 'an agent.status event says it was removed by its shutdown');

  // Broadcast: one command, to every agent not removed (ctl-b and the node's own), not to ctl-a.
  const sent = await api('POST', '/api/agents/broadcast', { message: 'cluster upgrade at 18:00' });
  t.equal(sent.status, 202);
  t.same([...sent.json.agent_ids].sort(), ['ctl-b', local].sort(), 'sent to the agents that are not removed');
  t.match(await next(b, 'the broadcast'), { subject: 'omoi.agent.ctl-b.control', payload: { kind: 'broadcast', ack: false, control_id: sent.json.control_id, message: 'cluster upgrade at 18:00' } });
  await waitFor('the node\'s own agent to record it', async () => (await control(local, sent.json.control_id))?.status === 'sent' || undefined);
  t.equal(await nothingFor(a), null, 'a removed agent gets no broadcast');
  const emptyMessage = await api('POST', '/api/agents/broadcast', { message: '' });
  t.match(emptyMessage, { status: 400, json: { error: { code: 'schema_violation', field: '/message' } } }, 'an empty message is refused');

  // A drain never acknowledged: overdue after OMOI_STOP_ACK_TIMEOUT_MS, visibly; a late acknowledgement still counts.
  const late = await api('POST', '/api/agents/ctl-b/drain', {});
  t.match(await next(b, 'the unanswered drain'), { payload: { kind: 'drain', ack: true, control_id: late.json.message_id } });
  await waitFor('the drain to be overdue', async () => (await control('ctl-b', late.json.message_id))?.status === 'overdue' || undefined, { timeoutMs: 20_000 });
  const overdue = await sql<{ payload: any }>(node, `select payload from omoi_event where type = 'agent.control_overdue'`);
  t.match(overdue, [{ payload: { agent_id: 'ctl-b', control_id: late.json.message_id, kind: 'drain' } }], 'an agent.control_overdue event');
  t.ok(overdue[0]!.payload.waited_ms >= 3_000, 'after the acknowledgement timeout');
  t.match(await row('ctl-b'), { status: 'healthy', draining: true }, 'the drain holds; its health is left to its heartbeats');
  await b.send('agent.control_acknowledged', { agent_id: 'ctl-b', control_id: late.json.message_id });
  await waitFor('the late acknowledgement', async () => (await control('ctl-b', late.json.message_id))?.status === 'acknowledged' || undefined);

  // The node's own agent: its node acknowledges a drain; a shutdown with nothing running removes it at once.
  const localDrain = await api('POST', `/api/agents/${local}/drain`, {});
  await waitFor('the node to acknowledge its agent\'s drain', async () => (await control(local, localDrain.json.message_id))?.status === 'acknowledged' || undefined);
  const localShut = await api('POST', `/api/agents/${local}/shutdown`, {});
  await waitFor('the node\'s agent removed', async () => (await row(local)).status === 'removed' || undefined);
  t.match(await row(local), { reason: 'shutdown', shutting_down: true });
  await waitFor('the node to acknowledge its agent\'s shutdown', async () => (await control(local, localShut.json.message_id))?.status === 'acknowledged' || undefined);
  t.same(await sql(node, `select code from omoi_dead_letter`), [{ code: 'agent_shutting_down' }], 'no other message was refused');
});
