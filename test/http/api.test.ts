import { createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { request, send, startTestNode, taskSpec, TOKEN } from './helpers.ts';
import { seedBlockedDiamond, seedCluster, seedEvent } from './seed.ts';
import { AgentEntity } from '../../src/persistence/index.ts';

const DASHBOARD_DIR = fileURLToPath(new URL('../../src/http/dashboard/', import.meta.url));

const SHA = 'c'.repeat(40);

/** Every route of the API, with a body that would be accepted, so only auth can refuse it. */
const API_ROUTES: [method: string, path: string, body?: unknown][] = [
  ['GET', '/api/tickets'],
  ['GET', '/api/tickets/T-diamond'],
  ['POST', '/api/tickets', { title: 't', repository: '/r', tasks: [taskSpec('A')] }],
  ['POST', '/api/tickets/T-diamond/cancel', {}],
  ['POST', '/api/tickets/T-diamond/tasks', taskSpec('F', ['E'])],
  ['POST', '/api/tickets/T-diamond/tasks/B/complete', { attempt: 1 }],
  ['POST', '/api/tickets/T-diamond/tasks/B/fail', { attempt: 1, error: 'x' }],
  ['POST', '/api/tickets/T-diamond/tasks/B/cancel', {}],
  ['POST', '/api/tickets/T-diamond/tasks/B/split', { tasks: [taskSpec('B1')], continuation: taskSpec('B2') }],
  ['POST', '/api/tickets/T-diamond/joins/join-D/resolve', { commit: SHA }],
  ['GET', '/api/events'],
  ['POST', '/api/agents', { name: 'a', phase: 'execute', capabilities: [], version: '1.0.0' }],
  ['POST', '/api/agents/agent-1/heartbeat', {}],
  ['DELETE', '/api/agents/agent-1'],
  ['GET', '/api/agents'],
  ['GET', '/api/dlq?status=open'],
  ['GET', '/api/dlq/1'],
  ['POST', '/api/dlq/1/retry', {}],
  ['POST', '/api/dlq/1/discard', {}],
  ['GET', '/api/cluster'],
  ['GET', '/api/no-such-route'],
];

t.test('every /api route refuses a missing, malformed or wrong token with 401 and submits nothing', async (t) => {
  // More failures than the rate limit allows from one address (test/http/principals.test.ts tests the limit).
  const node = await startTestNode(t, { authFailureLimit: { max: 1_000, windowMs: 60_000 } });
  await seedBlockedDiamond(node.db);
  await seedCluster(node.db);
  const refusals: { token?: string | null; headers?: Record<string, string>; why: string }[] = [
    { token: null, why: 'no header' },
    { token: 'wrong', why: 'wrong token' },
    { token: `${TOKEN}x`, why: 'token with a suffix' },
    { token: TOKEN.slice(0, -1), why: 'token prefix' },
    { token: null, headers: { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` }, why: 'basic auth' },
    { token: null, headers: { authorization: TOKEN }, why: 'token without scheme' },
  ];
  for (const [method, path, body] of API_ROUTES) {
    for (const refusal of refusals) {
      const res = await send(node.url, method, path, body, { token: refusal.token, headers: refusal.headers });
      t.equal(res.status, 401, `${method} ${path}: ${refusal.why}`);
      t.equal(res.json?.error?.code, 'unauthorized', `${method} ${path}: ${refusal.why} names the problem`);
    }
  }
  t.same(node.submitted, [], 'no refused request reached submit');
  const letter = await send(node.url, 'GET', '/api/dlq/1');
  t.equal(letter.json.status, 'open', 'no refused request retried or discarded a dead letter');

  for (const [method, path, body] of API_ROUTES) {
    const res = await send(node.url, method, path, body);
    t.not(res.status, 401, `${method} ${path} is answered with the right token`);
  }
});

t.test('probes: healthz, readyz (200 and 503), metrics', async (t) => {
  const node = await startTestNode(t);
  const health = await request(node.url, 'GET', '/healthz', { token: null });
  t.equal(health.status, 200);
  t.same(health.json, { ok: true });

  const ready = await request(node.url, 'GET', '/readyz', { token: null });
  t.equal(ready.status, 200);
  t.same(ready.json, { ready: true, checks: { database: { ok: true } } });

  node.readiness = { ready: false, checks: { database: { ok: true }, nats: { ok: false, detail: 'connection refused' } } };
  const notReady = await request(node.url, 'GET', '/readyz', { token: null });
  t.equal(notReady.status, 503);
  t.same(notReady.json, node.readiness, 'the readiness report is returned as is');

  await send(node.url, 'GET', '/api/tickets');
  const metrics = await request(node.url, 'GET', '/metrics', { token: null });
  t.equal(metrics.status, 200);
  t.match(metrics.headers['content-type'], /^text\/plain/);
  t.match(metrics.text, /# TYPE omoi_messages_handled_total counter/, 'node metrics are exposed');
  t.match(metrics.text, /omoi_http_requests_total\{method="GET",route="\/api\/tickets",status="200"\} 1/, 'requests are counted by route');
});

t.test('tickets: list (newest first, status filter) and detail come from the database', async (t) => {
  const node = await startTestNode(t);
  await seedBlockedDiamond(node.db, 'T-old');
  await seedBlockedDiamond(node.db, 'T-new');
  await node.db.em().getConnection().execute(`update omoi_ticket set created_at = created_at + interval '1 hour', status = 'completed' where id = 'T-new'`);

  const list = await send(node.url, 'GET', '/api/tickets');
  t.equal(list.status, 200);
  t.same(list.json.tickets.map((x: { id: string }) => x.id), ['T-new', 'T-old'], 'newest first');
  t.same(list.json.tickets[1].tasks, { completed: 3, blocked: 1, pending: 1 }, 'task counts by status');

  const running = await send(node.url, 'GET', '/api/tickets?status=running');
  t.same(running.json.tickets.map((x: { id: string }) => x.id), ['T-old'], 'status filter');
  const limited = await send(node.url, 'GET', '/api/tickets?limit=1');
  t.equal(limited.json.tickets.length, 1, 'limit');

  const detail = await send(node.url, 'GET', '/api/tickets/T-old');
  t.equal(detail.status, 200);
  t.equal(detail.json.ticket.id, 'T-old');
  t.equal(detail.json.ticket.repository, '/srv/repos/app');
  t.same(detail.json.tasks.map((x: { id: string; status: string }) => `${x.id}:${x.status}`), ['A:completed', 'B:completed', 'C:completed', 'D:blocked', 'E:pending']);
  const d = detail.json.tasks.find((x: { id: string }) => x.id === 'D');
  t.equal(d.reason, 'merge_conflict', 'blocked reason is returned');
  t.same(d.depends_on, ['B', 'C']);
  t.same(detail.json.joins.map((j: { id: string; status: string; sources: string[] }) => [j.id, j.status, j.sources]), [['join-D', 'blocked', ['B', 'C']]]);
  t.same(detail.json.joins[0].completed, { B: { commit: '2'.repeat(40), result: { summary: 'b' } }, C: { commit: '3'.repeat(40), result: { summary: 'c' } } }, 'completed sources, assembled from omoi_join_source');
  t.equal(detail.json.merge_attempts.length, 1);
  t.same(detail.json.merge_attempts[0].merge_order, ['C', 'B']);
  t.same(detail.json.merge_attempts[0].conflicts, { B: ['config.py'], C: [] });

  const missing = await send(node.url, 'GET', '/api/tickets/T-nope');
  t.equal(missing.status, 404);
  t.equal(missing.json.error.code, 'not_found');
  t.match(missing.json.error.message, /T-nope/);
});

t.test('ticket creation submits ticket.create with a generated id, defaults filled by validation', async (t) => {
  const node = await startTestNode(t);
  const res = await send(node.url, 'POST', '/api/tickets', { title: 'Feature X', repository: '/srv/app', tasks: [taskSpec('A'), taskSpec('B', ['A'])] });
  t.equal(res.status, 202);
  t.match(res.json.ticket_id, /^T-[0-9a-z]{10}$/);
  t.equal(node.submitted.length, 1);
  const [cmd] = node.submitted;
  t.equal(cmd!.type, 'ticket.create');
  t.equal(cmd!.id, res.json.message_id, 'the answer carries the message id submit returned');
  t.equal(cmd!.payload.ticket_id, res.json.ticket_id);
  t.equal(cmd!.payload.base_branch, 'main', 'schema defaults are filled');

  const named = await send(node.url, 'POST', '/api/tickets', { ticket_id: 'T-mine', title: 'x', repository: '/r', tasks: [taskSpec('A')] }, { headers: { 'idempotency-key': 'create-T-mine' } });
  t.equal(named.status, 202);
  t.same(named.json, { ticket_id: 'T-mine', message_id: 'create-T-mine' }, 'given id kept; Idempotency-Key becomes the message id');
  t.equal(node.submitted[1]!.id, 'create-T-mine');
});

t.test('ticket, task and join commands are built from the path and the body', async (t) => {
  const node = await startTestNode(t);
  const calls: [string, string, unknown, string, Record<string, unknown>][] = [
    ['POST', '/api/tickets/T1/cancel', { reason: 'superseded' }, 'ticket.cancel', { ticket_id: 'T1', reason: 'superseded' }],
    ['POST', '/api/tickets/T1/cancel', undefined, 'ticket.cancel', { ticket_id: 'T1' }],
    ['POST', '/api/tickets/T1/tasks/B/complete', { attempt: 2, commit: SHA, result: { n: 1 } }, 'task.complete', { ticket_id: 'T1', task_id: 'B', attempt: 2, commit: SHA, result: { n: 1 } }],
    ['POST', '/api/tickets/T1/tasks/B/fail', { attempt: 1, error: 'tests failed' }, 'task.fail', { ticket_id: 'T1', task_id: 'B', attempt: 1, error: 'tests failed', retryable: true }],
    ['POST', '/api/tickets/T1/tasks/B/cancel', {}, 'task.cancel', { ticket_id: 'T1', task_id: 'B' }],
    ['POST', '/api/tickets/T1/joins/join-D/resolve', { commit: SHA }, 'merge.resolve', { ticket_id: 'T1', join_id: 'join-D', commit: SHA }],
    ['POST', '/api/agents/agent-9/heartbeat', undefined, 'agent.heartbeat', { agent_id: 'agent-9' }],
    ['DELETE', '/api/agents/agent-9', undefined, 'agent.deregister', { agent_id: 'agent-9' }],
  ];
  for (const [method, path, body, type, payload] of calls) {
    const before = node.submitted.length;
    const res = await send(node.url, method, path, body);
    t.equal(res.status, 202, `${method} ${path}`);
    t.equal(node.submitted.length, before + 1, `${method} ${path} submitted one command`);
    const cmd = node.submitted.at(-1)!;
    t.equal(cmd.type, type);
    t.same(cmd.payload, payload, `${type} payload`);
    t.equal(res.json.message_id, cmd.id);
  }

  const add = await send(node.url, 'POST', '/api/tickets/T1/tasks', taskSpec('E', ['B', 'C']));
  t.equal(add.status, 202);
  t.same(add.json.task_id, 'E');
  t.equal(node.submitted.at(-1)!.type, 'task.add');
  t.equal((node.submitted.at(-1)!.payload.task as { id: string }).id, 'E', 'the body is the task spec');
  t.same((node.submitted.at(-1)!.payload.task as { depends_on: string[] }).depends_on, ['B', 'C']);

  const split = await send(node.url, 'POST', '/api/tickets/T1/tasks/A/split', { tasks: [taskSpec('A1'), taskSpec('A2')], continuation: taskSpec('A3') });
  t.equal(split.status, 202);
  const splitCmd = node.submitted.at(-1)!;
  t.equal(splitCmd.type, 'task.split');
  t.equal(splitCmd.payload.task_id, 'A');
  t.same((splitCmd.payload.tasks as { id: string }[]).map((x) => x.id), ['A1', 'A2']);

  const override = await send(node.url, 'POST', '/api/tickets/T1/tasks/B/cancel', { ticket_id: 'T-other', task_id: 'Z' });
  t.equal(override.status, 202);
  t.same(node.submitted.at(-1)!.payload, { ticket_id: 'T1', task_id: 'B' }, 'the path names the entity, not the body');
});

t.test('events: ascending ids, after, ticket filter, limit, tail', async (t) => {
  const node = await startTestNode(t);
  await seedBlockedDiamond(node.db, 'T1');
  const other = await seedEvent(node.db, 'other-1', 'T2');
  const all = await send(node.url, 'GET', '/api/events');
  t.equal(all.status, 200);
  const ids = all.json.events.map((e: { id: number }) => e.id);
  t.same(ids, [...ids].sort((a: number, b: number) => a - b), 'ascending');
  t.equal(ids.length, 5);
  t.equal(all.json.next_after, other);
  t.equal(all.json.events[0].type, 'ticket.created');
  t.equal(all.json.events[0].payload.ticket_id, 'T1', 'payload is JSON');

  const after = await send(node.url, 'GET', `/api/events?after=${ids[2]}`);
  t.same(after.json.events.map((e: { id: number }) => e.id), ids.slice(3));
  const t2 = await send(node.url, 'GET', '/api/events?ticket_id=T2');
  t.same(t2.json.events.map((e: { message_id: string }) => e.message_id), ['other-1']);
  const limited = await send(node.url, 'GET', '/api/events?limit=2');
  t.same(limited.json.events.map((e: { id: number }) => e.id), ids.slice(0, 2));
  t.equal(limited.json.next_after, ids[1], 'next_after continues where this page ended');
  const tail = await send(node.url, 'GET', '/api/events?tail=1&limit=2');
  t.same(tail.json.events.map((e: { id: number }) => e.id), ids.slice(-2), 'tail gives the newest, ascending');
  const none = await send(node.url, 'GET', `/api/events?after=${other}`);
  t.same(none.json, { events: [], next_after: other }, 'nothing new: next_after stays');
});

t.test('agent registration: ed25519 key pair, public key submitted, private key returned once', async (t) => {
  const node = await startTestNode(t);
  const res = await send(node.url, 'POST', '/api/agents', { name: 'coder', phase: 'execute', capabilities: ['git'], version: '1.2.0' });
  t.equal(res.status, 201);
  t.match(res.json.agent_id, /^agent-[0-9a-z]{10}$/);
  t.match(res.json.private_key, /^-----BEGIN PRIVATE KEY-----/);
  const cmd = node.submitted.at(-1)!;
  t.equal(cmd.type, 'agent.register');
  t.equal(cmd.payload.agent_id, res.json.agent_id);
  t.equal(cmd.payload.kind, 'remote', 'validation filled defaults');
  t.notOk(JSON.stringify(node.submitted).includes('PRIVATE KEY'), 'the private key is not submitted');

  const publicKey = createPublicKey(cmd.payload.public_key as string);
  t.equal(publicKey.asymmetricKeyType, 'ed25519');
  const message = Buffer.from('task.complete T1 B 1');
  const signature = sign(null, message, res.json.private_key);
  t.ok(verify(null, message, publicKey, signature), 'a signature by the returned private key verifies with the submitted public key');
  t.notOk(verify(null, Buffer.from('tampered'), publicKey, signature), 'and only for the signed message');
  const stranger = generateKeyPairSync('ed25519');
  t.notOk(verify(null, message, publicKey, sign(null, message, stranger.privateKey)), 'another key does not verify');

  const second = await send(node.url, 'POST', '/api/agents', { agent_id: 'agent-x', name: 'coder', phase: 'execute', capabilities: [], version: '1.0.0', public_key: 'mine' });
  t.equal(second.status, 201);
  t.equal(second.json.agent_id, 'agent-x', 'a given agent id is kept');
  t.not(node.submitted.at(-1)!.payload.public_key, 'mine', 'the key pair is always generated here');
  t.not(second.json.private_key, res.json.private_key, 'each registration gets its own key');
});

t.test('admin key rotation: a new pair for a remote agent, the public half submitted as agent.rotate_key; unknown and local agents refused', async (t) => {
  const node = await startTestNode(t);
  await seedCluster(node.db); // agent-1 is a local agent
  const old = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
  const em = node.db.em();
  em.create(AgentEntity, {
    id: 'remote-1', name: 'remote', phase: 'execute', capabilities: [], agent_version: '1.0.0', kind: 'remote', public_key: old.publicKey, status: 'healthy',
    capacity: 1, running: [], registered_at: new Date(), last_heartbeat_at: new Date(), restarts: 0, restart_window_start: null, reason: null, updated_at: new Date(), version: 1,
  });
  await em.flush();
  const res = await send(node.url, 'POST', '/api/agents/remote-1/rotate-key');
  t.equal(res.status, 202);
  const cmd = node.submitted.at(-1)!;
  t.same([cmd.type, cmd.payload.agent_id], ['agent.rotate_key', 'remote-1']);
  t.equal(cmd.payload.public_key, res.json.public_key, 'the new public key is submitted');
  t.not(res.json.public_key, old.publicKey, 'a new key');
  const message = Buffer.from('heartbeat');
  t.ok(verify(null, message, createPublicKey(res.json.public_key), sign(null, message, res.json.private_key)), 'the returned private key is its pair');
  t.notOk(JSON.stringify(node.submitted).includes('PRIVATE KEY'), 'the private key is not submitted');
  const unknown = await send(node.url, 'POST', '/api/agents/nobody/rotate-key');
  t.same([unknown.status, unknown.json.error.code], [404, 'not_found']);
  const local = await send(node.url, 'POST', '/api/agents/agent-1/rotate-key');
  t.same([local.status, local.json.error.code], [409, 'agent_not_rotatable'], "a node's own agent has no key");
  t.equal(node.submitted.at(-1), cmd, 'nothing submitted for either');
});

t.test('agents, dead letters and cluster views', async (t) => {
  const node = await startTestNode(t);
  await seedCluster(node.db);
  const agents = await send(node.url, 'GET', '/api/agents');
  t.same(agents.json.agents.map((a: { id: string; status: string }) => [a.id, a.status]), [['agent-1', 'healthy']]);
  const filtered = await send(node.url, 'GET', '/api/agents?status=failed');
  t.same(filtered.json.agents, []);

  const open = await send(node.url, 'GET', '/api/dlq?status=open');
  t.equal(open.status, 200);
  t.same(open.json.dead_letters.map((d: { id: number; code: string }) => [d.id, d.code]), [[1, 'schema_violation']]);
  const one = await send(node.url, 'GET', '/api/dlq/1');
  t.equal(one.json.reason, '/payload/attempt: Expected integer');
  const retried = await send(node.url, 'POST', '/api/dlq/1/retry');
  t.same(retried.json, { id: 1, status: 'retried' });
  t.same((await send(node.url, 'GET', '/api/dlq?status=open')).json.dead_letters, [], 'retried letters are no longer open');
  t.same((await send(node.url, 'GET', '/api/dlq?status=all')).json.dead_letters.map((d: { status: string }) => d.status), ['retried'], 'status=all lists them all');
  const missing = await send(node.url, 'GET', '/api/dlq/99');
  t.equal(missing.status, 404);
  t.equal(missing.json.error.code, 'not_found');
  const discardMissing = await send(node.url, 'POST', '/api/dlq/99/discard');
  t.equal(discardMissing.status, 404, 'a NotFoundError from the dead-letter store keeps its status');

  const cluster = await send(node.url, 'GET', '/api/cluster');
  t.equal(cluster.json.node_id, 'test-node');
  t.equal(cluster.json.partitions, 64);
  t.same(cluster.json.nodes.map((n: { id: string }) => n.id), ['node-1']);
  t.same(cluster.json.leases.map((l: { partition: number; node_id: string; epoch: number }) => [l.partition, l.node_id, l.epoch]), [[0, 'node-1', 3]]);
  t.equal(cluster.json.lag, null, 'no NATS behind this server: no lag to report');
});

t.test('the dashboard is served without a token and with a strict content security policy', async (t) => {
  const node = await startTestNode(t);
  const page = await request(node.url, 'GET', '/', { token: null });
  t.equal(page.status, 200);
  t.match(page.headers['content-type'], /text\/html/);
  t.match(page.text, /<script type="module" src="\/app\.js"><\/script>/);
  t.match(page.headers['content-security-policy'], /default-src 'self'/);
  // Every file of the dashboard is served, and none builds markup from strings.
  const files = readdirSync(DASHBOARD_DIR, { recursive: true, withFileTypes: true }).filter((f) => f.isFile())
    .map((f) => `/${relative(DASHBOARD_DIR, join(f.parentPath, f.name)).split(sep).join('/')}`);
  t.ok(files.includes('/lib/router.js') && files.includes('/views/overview.js'), 'the modules are found');
  for (const file of files) {
    const res = await request(node.url, 'GET', file, { token: null });
    t.equal(res.status, 200, file);
    if (file.endsWith('.js')) {
      t.match(res.headers['content-type'], /javascript/, `${file} is served as a module script can be`);
      t.notMatch(res.text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, `${file} never injects markup`);
    }
  }
});
