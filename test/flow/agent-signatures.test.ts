import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { headers, nanos } from '@nats-io/nats-core';
import t from 'tap';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { sql, task, taskRows, waitTask } from './helpers.ts';
import { runOmoi } from '../cli/run-omoi.ts';
import { generateAgentKeyPair, type AgentKeyPair } from '../../src/http/agent-keys.ts';
import { KEY_ROTATED } from '../../src/actors/agent-actor.ts';
import { signAgentMessage, Streams } from '../../src/protocol/index.ts';

// Remote agents' messages on omoi.in are signed (src/protocol/agent-signature.ts) and checked by
// the ingress router of one node: every refusal below is a dead letter with its code, and the
// task it aimed at is left as it was; then the honest message is taken.

const cluster = await withCluster(t);
// Lenient supervision: the agents here heartbeat only when a step needs it.
const node = await withNode(t, cluster, { agentRegistrationTimeoutMs: 600_000, agentDegradedAfterMs: 600_000, agentFailedAfterMs: 900_000 });
const nc = await withClient(t, cluster);
const js = jetstream(nc);

interface Agent { id: string; keys: AgentKeyPair }

/** Publishes `body` on omoi.in.<type>: signed by `signer` (an agent id and private key) unless undefined. */
async function publish(type: string, body: unknown, o: { signer?: { id: string; privateKey: string }; id?: string; time?: Date } = {}) {
  const subject = `omoi.in.${type}`;
  const data = JSON.stringify(body);
  const msgId = o.id ?? `${type}-${randomUUID()}`;
  const h = headers();
  const signed = o.signer ? signAgentMessage({ subject, body: data, msgId, agentId: o.signer.id, privateKey: o.signer.privateKey, time: o.time }) : { 'Nats-Msg-Id': msgId };
  for (const [k, v] of Object.entries(signed)) h.set(k, v);
  const ack = await js.publish(subject, data, { headers: h });
  return { msgId, subject, data, headers: h, ack };
}
const as = (a: Agent, privateKey = a.keys.privateKey) => ({ id: a.id, privateKey });

const deadLetter = (msgId: string) => waitFor(`dead letter of ${msgId}`, async () => (await sql<any>(node, 'select code, reason from omoi_dead_letter where message_id = ?', [msgId]))[0]);
const agentRow = async (id: string) => (await sql<any>(node, 'select * from omoi_agent where id = ?', [id]))[0];
const register = (a: Agent, signer = as(a), publicKey = a.keys.publicKey) =>
  publish('agent.register', { agent_id: a.id, name: a.id, phase: 'execute', capabilities: [a.id], version: '1.0.0', kind: 'remote', capacity: 1, public_key: publicKey }, { signer });

async function healthyAgent(id: string): Promise<Agent> {
  const a = { id, keys: generateAgentKeyPair() };
  await register(a);
  await waitFor(`${id} registered`, async () => (await agentRow(id))?.status === 'registered' || undefined);
  await publish('agent.heartbeat', { agent_id: id }, { signer: as(a) });
  await waitFor(`${id} healthy`, async () => (await agentRow(id))?.status === 'healthy' || undefined);
  return a;
}

t.test('registration: a new remote agent proves it holds the key it registers', async (t) => {
  const keys = generateAgentKeyPair();
  const other = generateAgentKeyPair();
  const base = { agent_id: 'newcomer', name: 'n', phase: 'execute', capabilities: [], version: '1.0.0', kind: 'remote' };
  const unsigned = await publish('agent.register', { ...base, public_key: keys.publicKey });
  t.match(await deadLetter(unsigned.msgId), { code: 'bad_signature', reason: /missing headers Omoi-Agent, Omoi-Time, Omoi-Signature/ }, 'unsigned: refused');
  const keyless = await publish('agent.register', base, { signer: { id: 'newcomer', privateKey: keys.privateKey } });
  t.match(await deadLetter(keyless.msgId), { code: 'bad_signature', reason: /must carry its public_key/ }, 'without a public key: refused');
  const notTheirs = await publish('agent.register', { ...base, public_key: keys.publicKey }, { signer: { id: 'newcomer', privateKey: other.privateKey } });
  t.match(await deadLetter(notTheirs.msgId), { code: 'bad_signature' }, 'signed by another key than the one it registers: refused');
  const forOther = await publish('agent.register', { ...base, agent_id: 'someone-else', public_key: keys.publicKey }, { signer: { id: 'newcomer', privateKey: keys.privateKey } });
  t.match(await deadLetter(forOther.msgId), { code: 'bad_signature', reason: /signed by agent newcomer for agent someone-else/ });
  t.equal(await agentRow('newcomer'), undefined, 'nothing registered');
  await healthyAgent('newcomer-2');
  t.pass('a signed registration with its key, then a signed heartbeat: healthy');
});

t.test("reports: unsigned, forged, another agent's, stale and reused ones are refused; the honest one is taken", async (t) => {
  const owner = await healthyAgent('owner');
  const intruder = await healthyAgent('intruder');
  const repo = await makeRepo(t, { 'README.md': 'signed\n' });
  await node.submit('ticket.create', { ticket_id: 'S1', title: 'signed reports', repository: repo.dir, base_branch: 'main', tasks: [task('A', 'true', { capabilities: ['owner'] })] });
  const assigned = await waitTask(node, 'S1', 'A', 'assigned');
  t.equal(assigned.agent_id, 'owner', 'the task is assigned to the owner agent');
  const ref = { ticket_id: 'S1', task_id: 'A', attempt: assigned.attempt };
  const stillAssigned = async (why: string) => t.match(await taskRows(node, 'S1'), { A: { status: 'assigned', agent_id: 'owner', attempt: ref.attempt } }, `${why}: the task is unaffected`);

  const unsigned = await publish('task.complete', { ...ref, result: {} });
  t.match(await deadLetter(unsigned.msgId), { code: 'bad_signature' }, 'unsigned completion refused');
  await stillAssigned('unsigned');

  const forged = await publish('task.complete', { ...ref, result: {} }, { signer: as(owner, generateAgentKeyPair().privateKey) });
  t.match(await deadLetter(forged.msgId), { code: 'bad_signature', reason: /is not agent owner's/ }, 'signed by a key that is not the owner\'s: refused');
  const unknown = await publish('task.complete', { ...ref, result: {} }, { signer: { id: 'nobody', privateKey: owner.keys.privateKey } });
  t.match(await deadLetter(unknown.msgId), { code: 'bad_signature', reason: /unknown agent nobody/ });

  const other = await publish('task.complete', { ...ref, result: {} }, { signer: as(intruder) });
  t.match(await deadLetter(other.msgId), { code: 'wrong_agent', reason: /assigned to agent owner, not to intruder/ }, "another agent's valid signature on the owner's attempt: refused");
  await stillAssigned('wrong agent');

  const stale = await publish('task.complete', { ...ref, result: {} }, { signer: as(owner), time: new Date(Date.now() - 6 * 60_000) });
  t.match(await deadLetter(stale.msgId), { code: 'replayed', reason: /3[67]\d s ago; the limit is 300 s/ }, 'signed 6 minutes ago: refused');
  const ahead = await publish('task.complete', { ...ref, result: {} }, { signer: as(owner), time: new Date(Date.now() + 6 * 60_000) });
  t.match(await deadLetter(ahead.msgId), { code: 'replayed', reason: /ahead/ }, 'dated 6 minutes ahead: refused');
  await stillAssigned('stale');

  // Accepted: the start. Its id may not serve again, neither replayed as it was nor on another
  // message. JetStream drops a repeated Nats-Msg-Id inside the stream's duplicate window by
  // itself; the node's table catches it after the window, which this test shortens to 1 s.
  const start = await publish('task.started', ref, { signer: as(owner) });
  await waitTask(node, 'S1', 'A', 'running');
  const jsm = await jetstreamManager(nc);
  const config = (await jsm.streams.info(Streams.ingress)).config;
  await jsm.streams.update(Streams.ingress, { ...config, duplicate_window: nanos(1_000) });
  t.teardown(() => jsm.streams.update(Streams.ingress, config).then(() => undefined));
  await sleep(1_500);
  const replay = await js.publish(start.subject, start.data, { headers: start.headers });
  t.notOk(replay.duplicate, 'past the duplicate window, JetStream stores the replay');
  t.match(await deadLetter(start.msgId), { code: 'replayed', reason: /already used message id/ }, 'the exact bytes of an accepted message, replayed: refused');
  await sleep(1_500); // the replay's id left the duplicate window too
  const reused = await publish('task.complete', { ...ref, result: {} }, { signer: as(owner), id: start.msgId });
  t.notOk(reused.ack.duplicate);
  await waitFor('a second dead letter of the reused id', async () => (await sql<any>(node, `select code from omoi_dead_letter where message_id = ? and code = 'replayed'`, [start.msgId])).length === 2 || undefined);
  t.match(await taskRows(node, 'S1'), { A: { status: 'running', agent_id: 'owner' } }, 'a new message under a used id: refused, the task still runs');

  // The honest completion, sent as a full envelope that claims to come from a node: taken, and
  // forwarded as the agent's (what the partition's actor sees).
  const forwarded = nc.subscribe('omoi.part.*.task.complete', { max: 1 });
  await nc.flush();
  const msgId = `complete-${randomUUID()}`;
  const env = { id: msgId, type: 'task.complete', version: 1, time: new Date().toISOString(), source: node.config.nodeId, payload: { ...ref, result: { by: 'owner' } } };
  const honest = await publish('task.complete', env, { signer: as(owner), id: msgId });
  t.notOk(honest.ack.duplicate);
  await waitTask(node, 'S1', 'A', 'completed');
  for await (const m of forwarded) t.equal(m.json<{ source: string }>().source, 'agent:owner', "the forwarded envelope's source is the agent, whatever the sender wrote");
  t.same(await sql(node, 'select principal, outcome from omoi_audit where message_id = ?', [msgId]), [{ principal: 'agent:owner', outcome: 'accepted' }], 'the audit log names the agent whose signature was verified');
  const mismatched = await publish('task.fail', { ...env, id: 'another-id', type: 'task.fail', payload: { ...ref, error: 'x' } }, { signer: as(owner) });
  t.not(mismatched.msgId, 'another-id');
  t.match(await deadLetter('another-id'), { code: 'bad_signature', reason: /is not its Nats-Msg-Id/ }, "an envelope whose id is not the signed Nats-Msg-Id: refused");
});

t.test('an unsigned command claiming an agent as its source is forwarded as the node\'s', async (t) => {
  const forwarded = nc.subscribe('omoi.part.*.ticket.cancel', { max: 1 });
  await nc.flush();
  const id = `cancel-${randomUUID()}`;
  await publish('ticket.cancel', { id, type: 'ticket.cancel', version: 1, time: new Date().toISOString(), source: 'agent:owner', payload: { ticket_id: 'no-such-ticket' } }, { id });
  for await (const m of forwarded) t.equal(m.json<{ source: string }>().source, node.config.nodeId, 'the claimed agent source is replaced');
});

t.test('key rotation: by registering again signed with the current key, by agent.rotate_key, and by an admin over HTTP; old keys refused after', async (t) => {
  const a = await healthyAgent('rotating');
  const events = async () => (await sql<any>(node, `select payload from omoi_event where type = 'agent.status' and entity = 'rotating' order by id`)).map((r) => r.payload);
  const beat = (privateKey: string) => publish('agent.heartbeat', { agent_id: a.id }, { signer: { id: a.id, privateKey } });
  const accepted = async (p: Promise<{ msgId: string }>) => {
    const { msgId } = await p;
    await waitFor(`${msgId} handled`, async () => (await sql(node, 'select 1 from omoi_processed_message where message_id = ?', [msgId])).length > 0 || undefined);
    t.same(await sql(node, 'select code from omoi_dead_letter where message_id = ?', [msgId]), [], `${msgId} was taken`);
  };

  // An attacker re-registering the id with its own key (signed by that key) is refused.
  const attacker = generateAgentKeyPair();
  const takeover = await register(a, { id: a.id, privateKey: attacker.privateKey }, attacker.publicKey);
  t.match(await deadLetter(takeover.msgId), { code: 'bad_signature' }, 'a takeover signed by another key: refused');
  t.equal((await agentRow(a.id)).public_key, a.keys.publicKey);

  const second = generateAgentKeyPair();
  await accepted(register(a, as(a), second.publicKey));
  t.equal((await agentRow(a.id)).public_key, second.publicKey, 'registering again signed by the current key replaced the key');
  t.match((await events()).at(-1), { status: 'registered', reason: KEY_ROTATED }, 'an agent.status event says the key changed');
  t.notOk(JSON.stringify(await events()).includes('PRIVATE KEY'), 'no private key in any event');
  await sleep(1_100); // the router keeps a key at most a second
  const old = await beat(a.keys.privateKey);
  t.match(await deadLetter(old.msgId), { code: 'bad_signature' }, 'the old key is refused');
  await accepted(beat(second.privateKey));

  const third = generateAgentKeyPair();
  await accepted(publish('agent.rotate_key', { agent_id: a.id, public_key: third.publicKey }, { signer: { id: a.id, privateKey: second.privateKey } }));
  t.equal((await agentRow(a.id)).public_key, third.publicKey, 'agent.rotate_key signed by the current key replaced it');
  const unsignedRotation = await publish('agent.rotate_key', { agent_id: a.id, public_key: attacker.publicKey });
  t.match(await deadLetter(unsignedRotation.msgId), { code: 'bad_signature' }, 'an unsigned rotation: refused');

  const res = await fetch(`${node.httpUrl}/api/agents/${a.id}/rotate-key`, { method: 'POST', headers: { authorization: `Bearer ${node.apiToken}` } });
  t.equal(res.status, 202);
  const fourth = await res.json() as { public_key: string; private_key: string };
  await waitFor('the admin rotation applied', async () => (await agentRow(a.id)).public_key === fourth.public_key || undefined);
  await sleep(1_100);
  const before = await beat(third.privateKey);
  t.match(await deadLetter(before.msgId), { code: 'bad_signature' }, 'the key before the admin rotation is refused');
  await accepted(beat(fourth.private_key));

  // The HTTP heartbeat goes through the node (not omoi.in): no signature needed there.
  await sql(node, `update omoi_agent set status = 'degraded' where id = ?`, [a.id]);
  const http = await fetch(`${node.httpUrl}/api/agents/${a.id}/heartbeat`, { method: 'POST', headers: { authorization: `Bearer ${node.apiToken}` } });
  t.equal(http.status, 202);
  await waitFor('healthy again by the HTTP heartbeat', async () => (await agentRow(a.id)).status === 'healthy' || undefined);
  t.pass('the HTTP heartbeat route still works');
});

t.test('omoi pub signs as an agent with --agent and --key, and refuses to send an agent message unsigned', async (t) => {
  const a = await healthyAgent('cli-agent');
  const dir = await tempDir(t, 'cli-agent-key');
  const keyFile = path.join(dir, 'cli-agent.key');
  await writeFile(keyFile, a.keys.privateKey, { mode: 0o600 });
  const env = { NATS_URL: cluster.nats.url };
  const unsigned = await runOmoi(['pub', 'omoi.in.agent.heartbeat', '{"agent_id":"cli-agent"}'], env);
  t.equal(unsigned.code, 1);
  t.match(unsigned.stderr, /a remote agent's message: sign it with --agent <id> --key <private key file> \(nothing sent/);
  const signed = await runOmoi(['pub', 'omoi.in.agent.heartbeat', '{"agent_id":"cli-agent"}', '--agent', 'cli-agent', '--key', keyFile, '--id', 'cli-beat-1'], env);
  t.equal(signed.code, 0, signed.stderr);
  await waitFor('the signed heartbeat handled', async () => (await sql(node, 'select 1 from omoi_processed_message where message_id = ?', ['cli-beat-1'])).length > 0 || undefined);
  t.same(await sql(node, 'select code from omoi_dead_letter where message_id = ?', ['cli-beat-1']), [], 'taken');
  t.same(await sql(node, 'select 1 from omoi_audit where message_id = ?', ['cli-beat-1']), [], 'an accepted heartbeat is liveness, not a command: not in the audit log');
  const halfway = await runOmoi(['pub', 'omoi.in.agent.heartbeat', '{"agent_id":"cli-agent"}', '--agent', 'cli-agent'], env);
  t.match([halfway.code, halfway.stderr], [1, /signing needs both --agent <id> and --key/]);
});

t.test('budgets: an agent cannot raise its own budget by registering again; its signed reports carry usage to its spend', async (t) => {
  const a = await healthyAgent('budgeted');
  await node.submit('agent.set_budget', { agent_id: a.id, cost_usd: 1 });
  await waitFor('the operator\'s budget', async () => (await agentRow(a.id)).budget?.cost_usd === 1 || undefined);
  const again = await publish('agent.register', { agent_id: a.id, name: a.id, phase: 'execute', capabilities: [a.id], version: '1.0.1', kind: 'remote', capacity: 1, public_key: a.keys.publicKey, budget: { cost_usd: 1000 } }, { signer: as(a) });
  await waitFor('the re-registration handled', async () => (await agentRow(a.id)).agent_version === '1.0.1' || undefined);
  t.same(await sql(node, 'select code from omoi_dead_letter where message_id = ?', [again.msgId]), [], 'the re-registration itself is taken');
  t.match((await agentRow(a.id)).budget, { cost_usd: 1 }, '...but the budget stays the operator\'s');
  await publish('agent.heartbeat', { agent_id: a.id }, { signer: as(a) });
  await waitFor(`${a.id} healthy`, async () => (await agentRow(a.id))?.status === 'healthy' || undefined);

  // Its attempt's report, signed, with usage: charged to the ticket and to it, past its budget.
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  await node.submit('ticket.create', { ticket_id: 'T-budgeted', title: 'b', repository: repo.dir, tasks: [task('A', 'true', { capabilities: [a.id] })] });
  const assigned = await waitTask(node, 'T-budgeted', 'A', 'assigned');
  await publish('task.complete', { ticket_id: 'T-budgeted', task_id: 'A', attempt: assigned.attempt, usage: { model: 'remote-model', cost_usd: 1.5, input_tokens: 7 } }, { signer: as(a) });
  await waitTask(node, 'T-budgeted', 'A', 'completed');
  const row = await waitFor('the agent charged', async () => { const r = await agentRow(a.id); return r.spend.attempts === 1 ? r : undefined; });
  t.match(row, { spend: { cost_usd: 1.5, input_tokens: 7 }, budget_exceeded: true }, 'its spend, over its budget');
  t.match((await sql<any>(node, `select spend from omoi_ticket where id = 'T-budgeted'`))[0].spend, { cost_usd: 1.5 });
});
