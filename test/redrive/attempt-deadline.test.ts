import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { events, sql, task, taskRows, waitTicket } from '../flow/helpers.ts';
import { armCrash } from '../../src/failpoints.ts';

// Attempt deadlines: an attempt whose agent went silent is requeued, once per attempt, with a
// `task.expired` event and a metric; an attempt that shows signs of life is left alone.
const cluster = await withCluster(t);
// The test's remote agents never acknowledge a stop: an expired attempt frees their slot after 1 s.
const node = await withNode(t, cluster, { attemptSilenceMs: 1_500, agentDegradedAfterMs: 60_000, agentFailedAfterMs: 120_000, stopAckTimeoutMs: 1_000 });
const client = await withClient(t, cluster);
const assignments: any[] = [];
const sub = client.subscribe('omoi.agent.*.assign', { callback: (_e, m) => void assignments.push(m.json()) });
t.teardown(() => sub.unsubscribe());
await client.flush();
const expiredMetric = async (status: string) => {
  const text = await node.metrics.registry.metrics();
  return Number(new RegExp(`^omoi_attempts_expired_total\\{status="${status}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
};

t.test('a remote attempt whose offer was lost, then one whose agent went silent, is requeued once each', async (t) => {
  await node.submit('agent.register', { agent_id: 'quiet', name: 'quiet', phase: 'execute', capabilities: ['rust'], version: '1.0.0', kind: 'remote', capacity: 1 });
  await node.submit('agent.heartbeat', { agent_id: 'quiet' });
  // The agent keeps heartbeating while it ignores its first offer (as if the core-NATS offer were lost).
  const beat = setInterval(() => void node.submit('agent.heartbeat', { agent_id: 'quiet' }).catch(() => undefined), 300);
  t.teardown(() => clearInterval(beat));
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', { ticket_id: 'D1', title: 'deadlines', repository: repo.dir, base_branch: 'main', tasks: [task('R', 'true', { capabilities: ['rust'] })] });

  await waitFor('first offer', () => assignments.find((a) => a.task_id === 'R' && a.attempt === 1));
  const second = await waitFor('the never-started attempt expired and offered again', () => assignments.find((a) => a.task_id === 'R' && a.attempt === 2), { timeoutMs: 30_000 });
  t.equal(second.agent_id, 'quiet');
  // Attempt 2 starts; then the agent goes silent (no heartbeat, no result).
  await node.submit('task.started', { ticket_id: 'D1', task_id: 'R', attempt: 2 });
  await waitFor('attempt 2 running', async () => (await taskRows(node, 'D1')).R.status === 'running');
  clearInterval(beat);
  const third = await waitFor('the silent running attempt expired and offered again', () => assignments.find((a) => a.task_id === 'R' && a.attempt === 3), { timeoutMs: 30_000 });
  await node.submit('task.started', { ticket_id: 'D1', task_id: 'R', attempt: 3 });
  await node.submit('task.complete', { ticket_id: 'D1', task_id: 'R', attempt: 3, result: { by: 'quiet' } });
  await waitTicket(node, 'D1', 'completed');
  t.equal(third.attempt, 3);

  // A few more supervisor ticks: nothing expires twice.
  await sleep(1_500);
  const expired = await events(node, 'D1', 'task.expired');
  t.same(expired.map((e) => [e.payload.attempt, e.payload.status, e.payload.agent_id]), [[1, 'assigned', 'quiet'], [2, 'running', 'quiet']], 'one task.expired per silent attempt, with the state it was in');
  t.ok(expired.every((e) => e.payload.silent_ms > 1_500), 'each after the configured silence');
  const statuses = (await events(node, 'D1', 'task.status')).filter((e) => e.payload.status === 'ready' && /attempt_expired/.test(e.payload.reason ?? ''));
  t.equal(statuses.length, 2, 'each expired attempt went back to the queue with the reason');
  t.equal(await expiredMetric('assigned'), 1, 'metric: one expired assigned attempt');
  t.equal(await expiredMetric('running'), 1, 'metric: one expired running attempt');
});

t.test('a local attempt running longer than the silence is not expired: the executor holding it is its heartbeat', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', { ticket_id: 'D2', title: 'long task', repository: repo.dir, base_branch: 'main', tasks: [task('L', 'sleep 4 && echo done > l.txt', { owns: ['l.txt'] })] });
  await waitTicket(node, 'D2', 'completed');
  t.equal((await taskRows(node, 'D2')).L.attempt, 1, 'it ran once, to the end');
  t.same(await events(node, 'D2', 'task.expired'), [], 'no expiry');
});

t.test('a local attempt its executor never got (the offer was lost after its commit) is expired and runs again', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const disarm = armCrash('agent.offer', 1);
  t.teardown(disarm);
  await node.submit('ticket.create', { ticket_id: 'D3', title: 'lost offer', repository: repo.dir, base_branch: 'main', tasks: [task('X', 'echo x > x.txt', { owns: ['x.txt'] })] });
  await waitTicket(node, 'D3', 'completed', 30_000);
  const expired = await events(node, 'D3', 'task.expired');
  t.same(expired.map((e) => [e.payload.attempt, e.payload.status, e.payload.agent_id]), [[1, 'assigned', `local-${node.config.nodeId}`]], 'the lost attempt expired once');
  t.equal((await taskRows(node, 'D3')).X.attempt, 2, 'and ran again as attempt 2');
  // The ticket tells the agent (agent.task_ended, on the agent's partition) after it recorded the ending.
  const running = async () => (await sql<any>(node, 'select running from omoi_agent where id = ?', [`local-${node.config.nodeId}`]))[0].running;
  await waitFor('the slots freed', async () => (await running()).length === 0).catch(() => undefined);
  t.same(await running(), [], 'the slot of the lost attempt was freed');
});

t.test('a result that overtakes its task.started (the start re-driven later) completes the attempt', async (t) => {
  await node.submit('agent.register', { agent_id: 'eager', name: 'eager', phase: 'execute', capabilities: ['go'], version: '1.0.0', kind: 'remote', capacity: 1 });
  await node.submit('agent.heartbeat', { agent_id: 'eager' });
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', { ticket_id: 'D4', title: 'overtaken start', repository: repo.dir, base_branch: 'main', tasks: [task('G', 'true', { capabilities: ['go'] })] });
  await waitFor('offer to eager', () => assignments.find((a) => a.task_id === 'G' && a.agent_id === 'eager'));
  await node.submit('task.complete', { ticket_id: 'D4', task_id: 'G', attempt: 1, result: {} });
  await waitTicket(node, 'D4', 'completed', 30_000);
  const statuses = (await events(node, 'D4', 'task.status')).map((e) => e.payload.status);
  t.same(statuses, ['ready', 'assigned', 'running', 'completed'], 'assigned → running → completed');
  t.same(await sql(node, `select * from omoi_dead_letter where message_id like '%D4%'`), [], 'nothing dead-lettered');
});
