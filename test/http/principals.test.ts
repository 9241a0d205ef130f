import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { Principals, TOKEN_PREFIX, tokenHash } from '../../src/access/index.ts';
import { AuthFailures } from '../../src/http/auth-failures.ts';
import { SECRET_LOG_PATHS } from '../../src/logging/logger.ts';
import { waitFor } from '../harness/index.ts';
import { send, startTestNode, taskSpec, TOKEN, type TestNode } from './helpers.ts';
import { seedBlockedDiamond, seedCluster } from './seed.ts';

const SHA = 'c'.repeat(40);

/** Every `/api` route with an acceptable body, and the weakest role that may call it. */
const ROUTE_ROLES: [method: string, pattern: string, path: string, role: 'viewer' | 'operator' | 'admin', body?: unknown][] = [
  ['GET', '/api/tickets', '/api/tickets', 'viewer'],
  ['GET', '/api/tickets/:id', '/api/tickets/T-diamond', 'viewer'],
  ['POST', '/api/tickets', '/api/tickets', 'operator', { title: 't', repository: '/r', tasks: [taskSpec('A')] }],
  ['POST', '/api/tickets/:id/cancel', '/api/tickets/T-diamond/cancel', 'operator', {}],
  ['POST', '/api/tickets/:id/tasks', '/api/tickets/T-diamond/tasks', 'operator', taskSpec('F', ['E'])],
  ['POST', '/api/tickets/:id/tasks/:task/complete', '/api/tickets/T-diamond/tasks/B/complete', 'operator', { attempt: 1 }],
  ['POST', '/api/tickets/:id/tasks/:task/fail', '/api/tickets/T-diamond/tasks/B/fail', 'operator', { attempt: 1, error: 'x' }],
  ['POST', '/api/tickets/:id/tasks/:task/cancel', '/api/tickets/T-diamond/tasks/B/cancel', 'operator', {}],
  ['POST', '/api/tickets/:id/tasks/:task/retry', '/api/tickets/T-diamond/tasks/B/retry', 'operator', { reason: 'flaky' }],
  ['POST', '/api/tickets/:id/tasks/:task/split', '/api/tickets/T-diamond/tasks/B/split', 'operator', { tasks: [taskSpec('B1')], continuation: taskSpec('B2') }],
  ['PUT', '/api/tickets/:id/budget', '/api/tickets/T-diamond/budget', 'operator', { cost_usd: 5 }],
  ['POST', '/api/tickets/:id/approve', '/api/tickets/T-diamond/approve', 'operator', { comment: 'ok' }],
  ['POST', '/api/tickets/:id/reject', '/api/tickets/T-diamond/reject', 'operator', { comment: 'no' }],
  ['POST', '/api/tickets/:id/deliver', '/api/tickets/T-diamond/deliver', 'operator', {}],
  ['GET', '/api/tickets/:id/tasks/:task', '/api/tickets/T-diamond/tasks/B', 'viewer'],
  ['GET', '/api/tickets/:id/tasks/:task/log', '/api/tickets/T-diamond/tasks/B/log', 'viewer'],
  ['GET', '/api/tickets/:id/tasks/:task/log/stream', '/api/tickets/T-diamond/tasks/B/log/stream', 'viewer'],
  ['GET', '/api/tickets/:id/joins/:join/merges/:attempt', '/api/tickets/T-diamond/joins/join-D/merges/1', 'viewer'],
  ['POST', '/api/tickets/:id/joins/:join/resolve', '/api/tickets/T-diamond/joins/join-D/resolve', 'operator', { commit: SHA }],
  ['GET', '/api/events', '/api/events', 'viewer'],
  ['GET', '/api/events/stream', '/api/events/stream', 'viewer'],
  ['GET', '/api/agents', '/api/agents', 'viewer'],
  ['GET', '/api/agents/:id', '/api/agents/agent-1', 'viewer'],
  ['POST', '/api/agents', '/api/agents', 'admin', { name: 'a', phase: 'execute', capabilities: [], version: '1.0.0' }],
  ['POST', '/api/agents/:id/heartbeat', '/api/agents/agent-1/heartbeat', 'admin', {}],
  ['POST', '/api/agents/:id/rotate-key', '/api/agents/agent-r/rotate-key', 'admin', {}],
  ['POST', '/api/agents/:id/drain', '/api/agents/agent-1/drain', 'admin', { reason: 'maintenance' }],
  ['POST', '/api/agents/:id/undrain', '/api/agents/agent-1/undrain', 'admin', {}],
  ['POST', '/api/agents/:id/shutdown', '/api/agents/agent-1/shutdown', 'admin', { reason: 'retired' }],
  ['POST', '/api/agents/broadcast', '/api/agents/broadcast', 'admin', { message: 'upgrade at 18:00' }],
  ['PUT', '/api/agents/:id/budget', '/api/agents/agent-1/budget', 'operator', { cost_usd: 5 }],
  ['DELETE', '/api/agents/:id', '/api/agents/agent-1', 'admin'],
  ['GET', '/api/dlq', '/api/dlq?status=all', 'viewer'],
  ['GET', '/api/dlq/:id', '/api/dlq/1', 'viewer'],
  ['POST', '/api/dlq/:id/retry', '/api/dlq/1/retry', 'admin', {}],
  ['POST', '/api/dlq/:id/discard', '/api/dlq/2/discard', 'admin', {}],
  ['GET', '/api/cluster', '/api/cluster', 'viewer'],
  ['GET', '/api/supervision', '/api/supervision', 'viewer'],
  ['GET', '/api/breakers', '/api/breakers', 'viewer'],
  ['GET', '/api/tokens', '/api/tokens', 'admin'],
  ['POST', '/api/tokens', '/api/tokens', 'admin', { name: 'made-by-test', role: 'viewer' }],
  ['DELETE', '/api/tokens/:name', '/api/tokens/made-by-test', 'admin'],
  ['GET', '/api/audit', '/api/audit', 'admin'],
  ['GET', '/api/alerts/:id/deliveries', '/api/alerts/A1/deliveries', 'viewer'],
  ['GET', '/api/alert-deliveries', '/api/alert-deliveries?status=failed', 'viewer'],
  ['GET', '/api/alerts', '/api/alerts?status=all', 'viewer'],
  ['GET', '/api/alerts/:id', '/api/alerts/al-seed', 'viewer'],
  ['POST', '/api/alerts/:id/acknowledge', '/api/alerts/al-seed/acknowledge', 'operator', { comment: 'seen' }],
  ['POST', '/api/alerts/:id/resolve', '/api/alerts/al-seed/resolve', 'operator', {}],
  ['GET', '/api/specs', '/api/specs', 'viewer'],
  ['GET', '/api/specs/:id', '/api/specs/S-none', 'viewer'],
  ['POST', '/api/specs', '/api/specs', 'operator', { repository: '/r', goal: 'g' }],
  ['POST', '/api/specs/:id/replan', '/api/specs/S-none/replan', 'operator', { from_phase: 'DESIGN' }],
  ['POST', '/api/specs/:id/cancel', '/api/specs/S-none/cancel', 'operator', {}],
  ['POST', '/api/specs/:id/approve', '/api/specs/S-none/approve', 'operator', {}],
  ['POST', '/api/specs/:id/reject', '/api/specs/S-none/reject', 'operator', { comment: 'no' }],
  ['GET', '/api/openapi.json', '/api/openapi.json', 'viewer'],
  ['POST', '/api/webhooks', '/api/webhooks', 'admin', { url: 'http://127.0.0.1:9/hook', events: ['ticket.*'] }],
  ['GET', '/api/webhooks', '/api/webhooks', 'admin'],
  ['GET', '/api/webhooks/:id', '/api/webhooks/wh-none', 'admin'],
  ['DELETE', '/api/webhooks/:id', '/api/webhooks/wh-seed', 'admin'],
  ['GET', '/api/webhooks/:id/deliveries', '/api/webhooks/wh-none/deliveries', 'admin'],
  ['GET', '/api/memory/search', '/api/memory/search?q=parser', 'viewer'],
];

async function createToken(node: TestNode, name: string, role: string): Promise<string> {
  const res = await send(node.url, 'POST', '/api/tokens', { name, role });
  if (res.status !== 201) throw new Error(`token ${name}: ${res.status} ${res.text}`);
  return res.json.token as string;
}

async function auditRows(node: TestNode, where = 'true'): Promise<any[]> {
  return node.db.em().getConnection().execute(`select * from omoi_audit where ${where} order by id`);
}

async function seedDeadLetters(node: TestNode): Promise<void> {
  await node.db.em().getConnection().execute(`insert into omoi_dead_letter (message_id, subject, type, code, reason, body, deliveries, status, created_at)
    values ('m1', 'omoi.in.ticket.cancel', 'ticket.cancel', 'schema_violation', 'r', '{}', 1, 'open', now()),
           ('m2', 'omoi.in.ticket.cancel', 'ticket.cancel', 'schema_violation', 'r', '{}', 1, 'open', now())`);
  // An open alert to acknowledge and resolve (the test node records commands; nothing changes the row).
  await node.db.em().getConnection().execute(`insert into omoi_alert (id, fingerprint, kind, severity, status, title, fields, count, notification,
      first_raised_at, last_raised_at, last_notified_at, routes, dedupe_window_ms, updated_at)
    values ('al-seed', 'agent_failed:agent-1', 'agent_failed', 'critical', 'raised', 'agent agent-1 failed', '{"agent_id":"agent-1"}', 1, 1, now(), now(), now(), '[]', 3600000, now())
    on conflict do nothing`);
}

t.test('every /api route declares a role, and each role reaches exactly its routes', async (t) => {
  const node = await startTestNode(t);
  await seedBlockedDiamond(node.db);
  await seedCluster(node.db);
  t.same(
    node.routes.map((r) => `${r.method} ${r.url} ${r.role}`).sort(),
    [...ROUTE_ROLES.map(([method, pattern, , role]) => `${method} ${pattern} ${role}`), 'POST /api/hooks/github operator'].sort(),
    'the server registered exactly these routes, each with this role (a new route must be added here)',
  );
  for (const r of node.routes) {
    if (r.selfAuthenticated) continue;
    t.equal(r.action !== undefined, r.method !== 'GET', `${r.method} ${r.url}: audited iff it changes state`);
  }
  // Authenticated by a signature, not a token: the only such route, and no token opens it.
  t.same(node.routes.filter((r) => r.selfAuthenticated).map((r) => `${r.method} ${r.url}`), ['POST /api/hooks/github']);
  const withToken = await send(node.url, 'POST', '/api/hooks/github', {}, { token: TOKEN });
  t.same([withToken.status, withToken.json?.error?.code], [404, 'github_hooks_off'], 'an admin token does not stand in for the signature');

  const tokens = { viewer: await createToken(node, 'v', 'viewer'), operator: await createToken(node, 'o', 'operator'), admin: TOKEN };
  for (const [who, token] of Object.entries(tokens)) {
    await seedDeadLetters(node);
    await node.db.em().getConnection().execute(`delete from omoi_principal where name = 'made-by-test'`);
    for (const [method, , path, need, body] of ROUTE_ROLES) {
      const res = await send(node.url, method, path, body, { token });
      const allowed = who === 'admin' || need === 'viewer' || (need === 'operator' && who === 'operator');
      if (allowed) t.not(res.status, 403, `${who} may ${method} ${path}`);
      else {
        t.equal(res.status, 403, `${who} may not ${method} ${path}`);
        t.equal(res.json?.error?.code, 'forbidden');
        t.match(res.json?.error?.message, new RegExp(`^${need} role needed`), 'the answer names the role needed');
      }
    }
  }
});

t.test('a viewer cannot cancel a ticket (403, nothing submitted, audited as refused); an operator can', async (t) => {
  const node = await startTestNode(t);
  await seedBlockedDiamond(node.db);
  const viewer = await createToken(node, 'watcher', 'viewer');
  const operator = await createToken(node, 'ops', 'operator');
  t.match(viewer, new RegExp(`^${TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`), 'tokens are omoi_ + 32 random bytes, base64url');

  t.equal((await send(node.url, 'GET', '/api/tickets/T-diamond', undefined, { token: viewer })).status, 200, 'a viewer reads');
  const refused = await send(node.url, 'POST', '/api/tickets/T-diamond/cancel', {}, { token: viewer });
  t.equal(refused.status, 403);
  t.same(refused.json.error, { code: 'forbidden', message: 'operator role needed; watcher is viewer', field: 'headers.authorization' });
  t.same(node.submitted, [], 'nothing was submitted');
  const [ticket] = await node.db.em().getConnection().execute(`select status from omoi_ticket where id = 'T-diamond'`);
  t.equal(ticket.status, 'running', 'the ticket is unaffected');

  const accepted = await send(node.url, 'POST', '/api/tickets/T-diamond/cancel', {}, { token: operator });
  t.equal(accepted.status, 202);
  t.same(node.submitted.map((s) => s.type), ['ticket.cancel']);

  const rows = await auditRows(node, `command = 'ticket.cancel'`);
  t.same(rows.map((r) => [r.principal, r.role, r.channel, r.target, r.outcome, r.message_id]), [
    ['watcher', 'viewer', 'http', 'T-diamond', 'refused:forbidden', null],
    ['ops', 'operator', 'http', 'T-diamond', 'accepted', accepted.json.message_id],
  ]);
});

t.test('every state-changing call is audited exactly once with its principal and outcome; reads and 401s are not', async (t) => {
  const node = await startTestNode(t);
  await seedBlockedDiamond(node.db);
  await seedDeadLetters(node);
  // A remote agent with a key, for the rotation.
  await node.db.em().getConnection().execute(`insert into omoi_agent (id, name, phase, capabilities, agent_version, kind, public_key, status, capacity, running, registered_at, restarts, updated_at)
    values ('agent-r', 'remote-r', 'execute', '[]', '1.0.0', 'remote', 'pem', 'active', 1, '[]', now(), 0, now())`);
  // A webhook subscription to remove.
  await node.db.em().getConnection().execute(`insert into omoi_webhook_subscription (id, url, secret, events, ticket_id, active, created_by, created_at, removed_at)
    values ('wh-seed', 'http://127.0.0.1:9/hook', 'seed-secret-0123456789', '["ticket.*"]', null, true, 'admin', now(), null)`);
  const before = (await auditRows(node)).length;
  const mutations = ROUTE_ROLES.filter(([method]) => method !== 'GET');
  for (const [method, , path, , body] of mutations) {
    const res = await send(node.url, method, path, body);
    t.ok(res.status < 400, `${method} ${path} accepted (${res.status} ${res.text.slice(0, 200)})`);
  }
  for (const [method, , path] of ROUTE_ROLES.filter(([m]) => m === 'GET')) await send(node.url, method, path);
  await send(node.url, 'POST', '/api/tickets/T-diamond/cancel', {}, { token: 'wrong' });

  const rows = await auditRows(node);
  t.equal(before, 0, 'a fresh node has no audit rows');
  t.equal(rows.length, mutations.length, 'one row per state-changing call, none for reads or a refused token');
  const byCommand = new Map(rows.map((r) => [r.command, r]));
  t.same([...byCommand.keys()].sort(), [
    'agent.broadcast', 'agent.deregister', 'agent.drain', 'agent.heartbeat', 'agent.register', 'agent.rotate_key', 'agent.set_budget', 'agent.shutdown', 'agent.undrain', 'alert.acknowledge', 'alert.resolve', 'dlq.discard', 'dlq.retry', 'merge.resolve', 'spec.approve', 'spec.cancel', 'spec.create', 'spec.reject', 'spec.replan', 'task.add', 'task.cancel',
    'task.complete', 'task.fail', 'task.retry', 'task.split', 'ticket.approve', 'ticket.cancel', 'ticket.create', 'ticket.deliver', 'ticket.reject', 'ticket.set_budget', 'token.create', 'token.revoke',
    'webhook.create', 'webhook.remove',
  ], 'each call under its command');
  for (const r of rows) {
    t.equal(r.principal, 'admin', `${r.command}: principal`);
    t.equal(r.outcome, 'accepted', `${r.command}: outcome`);
  }
  t.equal(byCommand.get('task.complete').target, 'T-diamond/B');
  t.equal(byCommand.get('merge.resolve').target, 'T-diamond/join-D');
  t.equal(byCommand.get('token.create').target, 'made-by-test');
  t.equal(byCommand.get('dlq.retry').target, '1');
  t.equal(byCommand.get('alert.acknowledge').target, 'al-seed');
  t.same(node.submitted.find((c) => c.type === 'alert.acknowledge')?.payload, { alert_id: 'al-seed', fingerprint: 'agent_failed:agent-1', by: 'admin', comment: 'seen' }, 'the command names the acting principal and routes by the alert\'s fingerprint');
  t.match(byCommand.get('ticket.create').message_id, /\S/, 'commands carry their message id');

  // Validation errors are refusals too, under their code.
  const bad = await send(node.url, 'POST', '/api/tickets', { title: 7 });
  t.equal(bad.status, 400);
  const badToken = await send(node.url, 'POST', '/api/tokens', { name: 'x', role: 'root' });
  t.equal(badToken.json.error.code, 'invalid_role');
  const latest = await auditRows(node, `outcome like 'refused:%'`);
  t.same(latest.map((r) => [r.command, r.outcome]), [['ticket.create', `refused:${bad.json.error.code}`], ['token.create', 'refused:invalid_role']]);

  const listed = await send(node.url, 'GET', '/api/audit?limit=2');
  t.same(listed.json.audit.map((r: any) => r.command), ['token.create', 'ticket.create'], 'GET /api/audit: newest first, limited');
  const filtered = await send(node.url, 'GET', '/api/audit?command=dlq.retry&principal=admin');
  t.same(filtered.json.audit.map((r: any) => [r.command, r.principal, r.target]), [['dlq.retry', 'admin', '1']]);
});

t.test('tokens: created once and stored hashed, listed without hashes, revoked within a second on every node', async (t) => {
  const node = await startTestNode(t);
  const created = await send(node.url, 'POST', '/api/tokens', { name: 'ci-bot', role: 'operator' });
  t.equal(created.status, 201);
  t.same(Object.keys(created.json).sort(), ['name', 'role', 'token']);
  const token = created.json.token as string;
  const [stored] = await node.db.em().getConnection().execute(`select * from omoi_principal where name = 'ci-bot'`);
  t.equal(stored.token_hash, tokenHash(token), 'the sha256 is stored');
  t.notMatch(JSON.stringify(stored), token, 'the token itself is not');
  t.equal(stored.created_by, 'admin');

  const again = await send(node.url, 'POST', '/api/tokens', { name: 'ci-bot', role: 'viewer' });
  t.equal(again.status, 409);
  t.equal(again.json.error.code, 'principal_exists');
  t.equal((await send(node.url, 'POST', '/api/tokens', { name: '../x', role: 'viewer' })).json.error.code, 'invalid_name');

  const list = await send(node.url, 'GET', '/api/tokens');
  t.same(list.json.tokens.map((p: any) => [p.name, p.role, p.created_by, p.revoked_at]), [['admin', 'admin', 'bootstrap', null], ['ci-bot', 'operator', 'admin', null]]);
  t.notMatch(list.text, /token_hash|[0-9a-f]{64}/, 'no hashes in the list');

  // Another node over the same database, with its own cache: it has seen the token before the revocation.
  const otherNode = new Principals(node.db);
  t.same(await otherNode.authenticate(token), { name: 'ci-bot', role: 'operator' });
  t.equal((await send(node.url, 'GET', '/api/tickets', undefined, { token })).status, 200);

  const revoked = await send(node.url, 'DELETE', '/api/tokens/ci-bot');
  t.equal(revoked.status, 200);
  t.match(revoked.json, { name: 'ci-bot', revoked_at: String });
  const refused = await send(node.url, 'GET', '/api/tickets', undefined, { token });
  t.equal(refused.status, 401, 'this node refuses the revoked token at once');
  t.equal(refused.json.error.code, 'unauthorized');
  const revokedAt = Date.now();
  await waitFor('the other node to refuse the revoked token', async () => (await otherNode.authenticate(token)) === undefined, { timeoutMs: 3_000 });
  t.ok(Date.now() - revokedAt <= 1_500, `the other node refuses it within 1.5 s (${Date.now() - revokedAt} ms)`);

  const builtin = await send(node.url, 'DELETE', '/api/tokens/admin');
  t.equal(builtin.status, 409);
  t.equal(builtin.json.error.code, 'builtin_principal');
  t.equal((await send(node.url, 'DELETE', '/api/tokens/nobody')).status, 404);
});

t.test('the bootstrap token is the admin principal; changing it replaces the old one', async (t) => {
  const node = await startTestNode(t);
  const [row] = await node.db.em().getConnection().execute(`select * from omoi_principal where name = 'admin'`);
  t.match(row, { role: 'admin', created_by: 'bootstrap', revoked_at: null, token_hash: tokenHash(TOKEN) });
  t.equal((await send(node.url, 'GET', '/api/tokens')).status, 200, 'the bootstrap token is admin');

  // A restart with another OMOI_API_TOKEN (as bootstrap does at start).
  const restarted = new Principals(node.db);
  await restarted.ensureBootstrapAdmin('the-new-token');
  t.same(await restarted.authenticate('the-new-token'), { name: 'admin', role: 'admin' });
  t.equal(await restarted.authenticate(TOKEN), undefined, 'the old token is no longer an admin');
  const rows = await node.db.em().getConnection().execute(`select token_hash from omoi_principal where name = 'admin'`);
  t.same(rows, [{ token_hash: tokenHash('the-new-token') }], 'one admin row, with the new hash');
});

t.test('authentication failures: after 10 within the window an address gets 429 with Retry-After, even with the right token', async (t) => {
  const node = await startTestNode(t);
  t.equal((await send(node.url, 'GET', '/api/tickets')).status, 200);
  for (let i = 0; i < 10; i++) {
    const res = await send(node.url, 'GET', '/api/tickets', undefined, { token: `guess-${i}` });
    t.equal(res.status, 401, `guess ${i + 1} is a 401`);
  }
  const limited = await send(node.url, 'GET', '/api/tickets');
  t.equal(limited.status, 429, 'the right token is refused too');
  t.equal(limited.json.error.code, 'too_many_failures');
  const retryAfter = Number(limited.headers['retry-after']);
  t.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After is within the window (${retryAfter})`);
  t.equal((await send(node.url, 'POST', '/api/tickets/T1/cancel', {}, { token: 'guess' })).status, 429, 'guessing goes on being refused');
  t.same(await auditRows(node), [], 'neither 401s nor 429s write audit rows');
});

t.test('the failure window slides: old failures expire, refusals and successes do not count', async (t) => {
  let now = 1_000_000;
  const failures = new AuthFailures({ max: 3, windowMs: 60_000 }, () => now);
  failures.failed('a');
  now += 30_000;
  failures.failed('a');
  failures.failed('a');
  t.equal(failures.retryAfterMs('a'), 30_000, 'blocked until the oldest failure leaves the window');
  t.equal(failures.retryAfterMs('b'), 0, 'per address');
  now += 30_001;
  t.equal(failures.retryAfterMs('a'), 0, 'the oldest expired: 2 failures remain');
  failures.failed('a');
  t.ok(failures.retryAfterMs('a') > 0, 'a third failure in the window blocks again');
  now += 60_001;
  t.equal(failures.retryAfterMs('a'), 0, 'after a quiet window, free again');
});

t.test('secrets never reach the logs or the audit log', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, done) => { lines.push(String(chunk)); done(); } });
  const log = pino({ level: 'debug' }, sink);
  const node = await startTestNode(t, { log });
  const created = await createToken(node, 'secret-holder', 'admin');
  await send(node.url, 'GET', '/api/tickets', undefined, { token: created });
  await send(node.url, 'POST', '/api/tickets/T1/cancel', { reason: 'x' }, { token: created });
  await send(node.url, 'GET', '/api/tickets', undefined, { token: 'a-wrong-secret-guess' });
  // What a careless log call would write: the request's headers, a token field.
  const http = log.child({ component: 'http' }, { redact: SECRET_LOG_PATHS });
  http.info({ req: { headers: { authorization: `Bearer ${created}` } }, token: created }, 'careless');

  const output = lines.join('');
  t.ok(lines.length > 3, 'requests were logged');
  t.match(output, /\[redacted\]/, 'the careless line was redacted');
  for (const secret of [created, TOKEN, 'a-wrong-secret-guess']) t.notOk(output.includes(secret), 'no token in the log output');
  const audit = JSON.stringify(await auditRows(node));
  t.notOk(audit.includes(created) || audit.includes(TOKEN), 'no token in the audit rows');
});
