import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { headers } from '@nats-io/nats-core';
import t from 'tap';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { sql, task, taskRows, waitTask } from './helpers.ts';
import { generateAgentKeyPair, type AgentKeyPair } from '../../src/http/agent-keys.ts';
import { signAgentMessage } from '../../src/protocol/index.ts';

// A remote agent runs its tasks outside any node, so it has no task API: it discovers work with
// task.agent_add / task.agent_split, signed, for the attempt it runs and nothing else.

const cluster = await withCluster(t);
const node = await withNode(t, cluster, { agentRegistrationTimeoutMs: 600_000, agentDegradedAfterMs: 600_000, agentFailedAfterMs: 900_000 });
const js = jetstream(await withClient(t, cluster));

interface Agent { id: string; keys: AgentKeyPair }

/** Publishes `body` on omoi.in.<type>, signed by `signer` unless undefined; resolves to its message id. */
async function publish(type: string, body: unknown, signer?: Agent): Promise<string> {
  const subject = `omoi.in.${type}`;
  const data = JSON.stringify(body);
  const msgId = `${type}-${randomUUID()}`;
  const h = headers();
  const signed = signer ? signAgentMessage({ subject, body: data, msgId, agentId: signer.id, privateKey: signer.keys.privateKey }) : { 'Nats-Msg-Id': msgId };
  for (const [k, v] of Object.entries(signed)) h.set(k, v);
  await js.publish(subject, data, { headers: h });
  return msgId;
}
const deadLetter = (msgId: string) => waitFor(`dead letter of ${msgId}`, async () => (await sql<any>(node, 'select code, reason from omoi_dead_letter where message_id = ?', [msgId]))[0]);
const processed = (msgId: string) => waitFor(`${msgId} applied`, async () => (await sql<any>(node, 'select 1 from omoi_processed_message where message_id = ?', [msgId]))[0]);

async function healthyAgent(id: string): Promise<Agent> {
  const a = { id, keys: generateAgentKeyPair() };
  await publish('agent.register', { agent_id: id, name: id, phase: 'execute', capabilities: [id], version: '1.0.0', kind: 'remote', capacity: 1, public_key: a.keys.publicKey }, a);
  await waitFor(`${id} registered`, async () => (await sql<any>(node, 'select status from omoi_agent where id = ?', [id]))[0]?.status === 'registered' || undefined);
  await publish('agent.heartbeat', { agent_id: id }, a);
  await waitFor(`${id} healthy`, async () => (await sql<any>(node, 'select status from omoi_agent where id = ?', [id]))[0]?.status === 'healthy' || undefined);
  return a;
}

t.test('a remote agent splits the task it runs and adds a task; another agent, an unsigned message and a stale attempt are refused', async (t) => {
  const scout = await healthyAgent('scout');
  const intruder = await healthyAgent('intruder');
  const repo = await makeRepo(t, { 'README.md': 'remote\n' });
  await node.submit('ticket.create', { ticket_id: 'R1', title: 'remote discovery', repository: repo.dir, base_branch: 'main', tasks: [task('A', 'true', { capabilities: ['scout'] })] });
  const assigned = await waitTask(node, 'R1', 'A', 'assigned');
  t.equal(assigned.agent_id, 'scout');
  const split = {
    ticket_id: 'R1', task_id: 'A', attempt: assigned.attempt,
    tasks: [task('B1', 'echo b1 > b1.txt', { owns: ['b1.txt'] }), task('B2', 'echo b2 > b2.txt', { owns: ['b2.txt'] })],
    continuation: task('C', 'echo c > c.txt', { owns: ['c.txt'] }),
  };
  const onlyA = async (why: string) => t.same(Object.keys(await taskRows(node, 'R1')), ['A'], `${why}: nothing was added`);

  t.match(await deadLetter(await publish('task.agent_split', { ...split, agent_id: 'intruder' }, intruder)), { code: 'wrong_agent', reason: /run by agent scout, not by intruder/ });
  await onlyA('another agent\'s split');
  t.match(await deadLetter(await publish('task.agent_split', { ...split, agent_id: 'scout' })), { code: 'bad_signature' });
  await onlyA('an unsigned split');
  t.match(await deadLetter(await publish('task.agent_split', { ...split, agent_id: 'scout', attempt: assigned.attempt + 1 }, scout)), { code: 'not_running' });
  await onlyA('a split of an attempt that is not the live one');
  t.match(await deadLetter(await publish('task.agent_split', { ...split, agent_id: 'scout', tasks: [task('B1', 'true', { depends_on: ['nope'] })] }, scout)), { code: 'unknown_dependency' });
  await onlyA('a bad spec');

  await processed(await publish('task.agent_split', { ...split, agent_id: 'scout' }, scout));
  await processed(await publish('task.agent_add', { ticket_id: 'R1', task_id: 'A', attempt: assigned.attempt, agent_id: 'scout', task: task('L', 'echo l > l.txt', { depends_on: ['C'], owns: ['l.txt'] }) }, scout));
  const tasks = await taskRows(node, 'R1');
  t.same(Object.keys(tasks).sort(), ['A', 'B1', 'B2', 'C', 'L']);
  t.same(tasks.B1.depends_on, ['A'], 'the discovered tasks start from the agent\'s task');
  t.same(tasks.B2.depends_on, ['A']);
  t.same(tasks.C.depends_on, ['B1', 'B2'], 'the continuation joins them');
  t.same(tasks.L.depends_on, ['C']);
  const [join] = await sql<any>(node, `select id, sources from omoi_join where ticket_id = 'R1'`);
  t.match(join, { id: 'join-C', sources: ['B1', 'B2'] }, 'a join, as for any split');
  // The ingress router audits what it routes (the TicketActor's refusals are dead letters, above).
  const audit = await sql<any>(node, `select principal, command, outcome from omoi_audit where command in ('task.agent_split', 'task.agent_add') order by id`);
  t.same(audit.map((a) => `${a.principal} ${a.command} ${a.outcome}`), [
    'agent:intruder task.agent_split accepted', 'nats-client task.agent_split refused:bad_signature',
    'agent:scout task.agent_split accepted', 'agent:scout task.agent_split accepted', 'agent:scout task.agent_split accepted', 'agent:scout task.agent_add accepted',
  ], 'each is audited as the agent whose signature was verified; the unsigned one refused');
});
