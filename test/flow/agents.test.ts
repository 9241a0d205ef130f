import t from 'tap';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { events, sql, task, taskRows, waitTask, waitTicket } from './helpers.ts';
import type { OmoiNode } from '../../src/bootstrap.ts';
import { generateAgentKeyPair } from '../../src/http/agent-keys.ts';

const cluster = await withCluster(t);
// Short agent supervision limits for this node.
const node = await withNode(t, cluster, {
  agentRegistrationTimeoutMs: 1500, agentDegradedAfterMs: 1500, agentFailedAfterMs: 3000, agentRestartCooldownMs: 800, agentRestartMax: 1,
});
const client = await withClient(t, cluster);
const assignments: any[] = [];
const sub = client.subscribe('omoi.agent.*.assign', { callback: (_e, m) => void assignments.push(m.json()) });
t.teardown(() => sub.unsubscribe());
await client.flush();

const agentRow = async (id: string) => (await sql<any>(node, 'select * from omoi_agent where id = ?', [id]))[0];
const waitAgent = (id: string, status: string) => waitFor(`agent ${id} ${status}`, async () => ((await agentRow(id))?.status === status ? agentRow(id) : undefined));
const register = (n: OmoiNode, id: string, more: Record<string, unknown> = {}) =>
  n.submit('agent.register', { agent_id: id, name: id, phase: 'execute', capabilities: [], version: '1.0.0', kind: 'remote', capacity: 1, ...more });
const agentEvents = async (id: string) => (await sql<any>(node, `select payload from omoi_event where type = 'agent.status' and entity = ? order by time, message_id`, [id])).map((r) => r.payload.status);

t.test('scenario 10: registration validates; no first heartbeat in time → removed', async (t) => {
  await t.rejects(register(node, 'bad-version', { version: 'one' }), { code: 'schema_violation' }, 'version must be semver');
  await t.rejects(register(node, 'bad-kind', { kind: 'alien' }), { code: 'schema_violation' });
  await register(node, 'dup-caps', { capabilities: ['go', 'go'] });
  await waitFor('dead letter for duplicate capabilities', async () => (await sql<any>(node, `select * from omoi_dead_letter where code = 'duplicate_capability'`))[0]);
  t.equal(await agentRow('dup-caps'), undefined, 'not registered');

  await register(node, 'ghost');
  t.equal((await waitAgent('ghost', 'registered')).status, 'registered');
  const removed = await waitAgent('ghost', 'removed');
  t.match(removed.reason, /no first heartbeat within 1500 ms/);

  await register(node, 'alive');
  await waitAgent('alive', 'registered');
  await node.submit('agent.heartbeat', { agent_id: 'alive' });
  await waitAgent('alive', 'healthy');
  t.same(await agentEvents('alive'), ['registered', 'healthy']);
  // Taking it over by registering it again differently is refused; the same registration is fine.
  await register(node, 'alive', { kind: 'local' });
  await waitFor('dead letter for a takeover', async () => (await sql<any>(node, `select * from omoi_dead_letter where code = 'agent_exists'`))[0]);
  t.equal((await agentRow('alive')).kind, 'remote', 'still the remote agent it was');
  const local = `local-${node.config.nodeId}`;
  await register(node, local, { kind: 'remote' });
  await waitFor('a second takeover refused', async () => (await sql<any>(node, `select * from omoi_dead_letter where code = 'agent_exists'`)).length === 2);
  t.equal((await agentRow(local)).kind, 'local', "a node's local agent cannot be turned into a remote one");
  await register(node, 'alive');
  await node.submit('agent.deregister', { agent_id: 'alive' });
  await waitAgent('alive', 'removed');
  const [anotherKey, aThirdKey] = [generateAgentKeyPair().publicKey, generateAgentKeyPair().publicKey];
  await register(node, 'alive', { kind: 'remote', public_key: anotherKey });
  await waitFor('a removed id registered anew', async () => ((await agentRow('alive'))?.public_key === anotherKey ? true : undefined));
  t.pass('a removed agent\'s id may be registered anew');
  await node.submit('agent.heartbeat', { agent_id: 'alive' }); // not removed for want of a first heartbeat meanwhile
  await waitAgent('alive', 'healthy');
  await register(node, 'alive', { kind: 'remote', public_key: aThirdKey });
  await waitFor('a key change refused', async () => (await sql<any>(node, `select * from omoi_dead_letter where code = 'agent_exists'`)).length === 3);
  t.equal((await agentRow('alive')).public_key, anotherKey, 'its key cannot be replaced by registering again (unsigned by its key)');
  await register(node, 'alive', { kind: 'remote', public_key: 'not a key' });
  await waitFor('a key that is no key refused', async () => (await sql<any>(node, `select * from omoi_dead_letter where code = 'invalid_public_key'`))[0]);
  await node.submit('agent.deregister', { agent_id: 'alive' });
  await waitAgent('alive', 'removed');
  // `local-` ids are the nodes' own agents: whoever runs a task says whether Omoi's executor checked its commit.
  await register(node, 'local-impostor', { kind: 'remote' });
  await register(node, 'not-a-node', { kind: 'local' });
  const reserved = await waitFor('both refused', async () => {
    const rows = await sql<any>(node, `select reason from omoi_dead_letter where code = 'reserved_agent_id' order by id`);
    return rows.length === 2 ? rows : undefined;
  });
  // Two agents, two partitions: the dead letters may be written in either order.
  const reasons = reserved.map((r: any) => String(r.reason));
  t.ok(reasons.some((r) => /reserved for the nodes' own agents/.test(r)), 'a remote agent cannot take a local- id');
  t.ok(reasons.some((r) => /a local agent is a node's own/.test(r)), 'a local agent must have its node\'s id');
  t.equal(await agentRow('local-impostor'), undefined, 'neither was registered');
  t.equal(await agentRow('not-a-node'), undefined);
});

t.test('scenario 11 and 12: matching, mismatch, lost agents, restart limits', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T11', title: 'agents', repository: repo.dir, base_branch: 'main',
    tasks: [task('R', 'true', { capabilities: ['rust'] })],
  });
  const mismatch = await waitFor('agent.mismatch', async () => (await events(node, 'T11', 'agent.mismatch'))[0]);
  t.same(mismatch.payload.required, ['rust']);
  t.same(mismatch.payload.candidates, [{ agent_id: `local-${node.config.nodeId}`, missing: ['capability:rust'] }], 'what the local agent lacks');

  // A remote agent of another phase does not match either; one with the capability takes it.
  await register(node, 'reviewer', { phase: 'review', capabilities: ['rust'] });
  await node.submit('agent.heartbeat', { agent_id: 'reviewer' });
  await register(node, 'flaky', { capabilities: ['rust'] });
  await node.submit('agent.heartbeat', { agent_id: 'flaky' });
  const first = await waitFor('assignment to flaky', () => assignments.find((a) => a.agent_id === 'flaky'));
  t.equal(first.task_id, 'R');
  t.equal(first.attempt, 1);
  t.equal((await taskRows(node, 'T11')).R.agent_id, 'flaky', 'offered to the agent whose phase and capabilities match');

  // 12: flaky stops heartbeating: degraded, then failed; its task returns to the queue.
  await waitAgent('flaky', 'failed');
  t.same((await agentEvents('flaky')).slice(-2), ['degraded', 'failed']);
  const r = await waitFor('R back in the queue', async () => {
    const row = (await taskRows(node, 'T11')).R;
    return row.status === 'ready' && row.attempt === 1 ? row : undefined;
  });
  t.match(r.reason, /agent_lost: flaky failed/);

  // Restart policy: too early → refused; after the cooldown → restarted (1 allowed); then refused.
  await node.submit('agent.heartbeat', { agent_id: 'flaky' });
  await waitFor('cooldown refusal', async () => (await sql<any>(node, `select * from omoi_dead_letter where code = 'restart_cooldown'`))[0]);
  await new Promise((resolve) => setTimeout(resolve, 900));
  await node.submit('agent.heartbeat', { agent_id: 'flaky' });
  const restarted = await waitAgent('flaky', 'healthy');
  t.equal(restarted.restarts, 1);
  t.ok((await agentEvents('flaky')).includes('restarting'), 'the restart is observable');
  // It takes R again (attempt 2) and goes silent again.
  const second = await waitFor('second assignment', () => assignments.find((a) => a.agent_id === 'flaky' && a.attempt === 2));
  t.equal(second.task_id, 'R');
  await waitAgent('flaky', 'failed');
  await new Promise((resolve) => setTimeout(resolve, 900));
  await node.submit('agent.heartbeat', { agent_id: 'flaky' });
  await waitFor('restart limit refusal', async () => (await sql<any>(node, `select * from omoi_dead_letter where code = 'restart_limit'`))[0]);
  t.equal((await agentRow('flaky')).status, 'failed', 'the maximum restart count is enforced');

  // Another agent runs it.
  await register(node, 'steady', { capabilities: ['rust', 'git'] });
  await node.submit('agent.heartbeat', { agent_id: 'steady' });
  // A loaded machine may take a while to requeue R past the failed agent: wait longer than the default.
  const third = await waitFor('assignment to steady', () => assignments.find((a) => a.agent_id === 'steady'), { timeoutMs: 60_000 });
  t.equal(third.attempt, 3);
  await node.submit('task.started', { ticket_id: 'T11', task_id: 'R', attempt: 3 });
  await node.submit('task.complete', { ticket_id: 'T11', task_id: 'R', attempt: 3, result: { by: 'steady' } });
  await waitTask(node, 'T11', 'R', 'completed');
  await waitTicket(node, 'T11', 'completed');
  t.notOk(assignments.some((a) => a.agent_id === 'reviewer'), 'never offered to an agent of another phase');
});
