// What a person does to failed work and to agents, through the HTTP API the CLI and dashboard
// use, on a real node (NATS, PostgreSQL, git, real task processes): retry a failed or cancelled
// task, re-run a blocked merge's resolver, drain an agent. Each is also refused where it must be.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { events, gitIn, sql, task, taskRows, ticketRow, waitTask, waitTicket } from './helpers.ts';

const cluster = await withCluster(t);
const node = await withNode(t, cluster, { localAgentCapacity: 2 });
const local = `local-${node.config.nodeId}`;

/** A call as the CLI makes it (bearer token, JSON in and out). */
async function api(method: string, route: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${node.httpUrl}${route}`, {
    method, headers: { authorization: `Bearer ${node.apiToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** The dead letter a refused command left, by its code (the message id the API answered with). */
const refusal = (messageId: string) => waitFor(`dead letter of ${messageId}`, async () => (await sql<any>(node, 'select code, reason from omoi_dead_letter where message_id = ?', [messageId]))[0]);

t.test('a failed task retried gets a fresh budget of retries; what its failure blocked resumes and the ticket completes', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const dir = await tempDir(t, 'retry-');
  const counter = path.join(dir, 'attempts');
  // A fails its first three attempts and passes the fourth: with max_retries 1 it fails for good
  // at attempt 2; retried, attempt 3 fails again and is retried only because the budget is fresh.
  const flaky = `n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}; echo a > a.txt; test $n -ge 3`;
  await node.submit('ticket.create', {
    ticket_id: 'T-retry', title: 'a flaky task', repository: repo.dir, ownership: 'lenient',
    tasks: [
      task('A', flaky, { max_retries: 1 }),
      task('C', 'echo c > c.txt'),
      task('B', 'test -f a.txt && echo b > b.txt', { depends_on: ['A'] }), // A's sole dependent
      task('D', 'test -f a.txt && test -f c.txt && echo d > d.txt', { depends_on: ['A', 'C'] }), // A's join
    ],
  });
  const failed = await waitFor('ticket failed', async () => ((await ticketRow(node, 'T-retry'))?.status === 'failed' ? ticketRow(node, 'T-retry') : undefined));
  t.equal(failed!.reason, 'task_failed:A');
  await waitTask(node, 'T-retry', 'C', 'completed');
  let tasks = await taskRows(node, 'T-retry');
  t.match(tasks, { A: { status: 'failed', attempt: 2 }, B: { status: 'blocked', reason: 'source_failed:A' }, D: { status: 'blocked', reason: 'source_failed:A' } }, 'A failed for good; B and D blocked by it');

  // Refused: an unknown task, a task that did not fail.
  const unknown = await api('POST', '/api/tickets/T-retry/tasks/Z/retry', {});
  t.equal(unknown.status, 202, 'accepted for its actor to judge');
  t.equal((await refusal(unknown.json.message_id)).code, 'not_found', 'an unknown task: not_found');
  const done = await api('POST', '/api/tickets/T-retry/tasks/C/retry', {});
  t.match(await refusal(done.json.message_id), { code: 'task_not_retryable', reason: /task "C" is completed: only a failed or cancelled task can be retried/ }, 'a completed task: task_not_retryable');
  t.equal((await ticketRow(node, 'T-retry'))!.status, 'failed', 'the refusals changed nothing');

  const retried = await api('POST', '/api/tickets/T-retry/tasks/A/retry', { reason: 'the registry is back' });
  t.match(retried, { status: 202, json: { ticket_id: 'T-retry', task_id: 'A' } });
  const ticket = await waitTicket(node, 'T-retry', 'completed');
  tasks = await taskRows(node, 'T-retry');
  t.match(tasks.A, { status: 'completed', attempt: 4, attempt_base: 2, retried_by: 'http:admin', retry_reason: 'the registry is back' }, 'A passed on its second attempt after the retry; who and why recorded');
  t.match(tasks.B, { status: 'completed' }, 'its sole dependent ran');
  t.match(tasks.D, { status: 'completed' }, 'its join merged and the continuation ran');
  t.same((await gitIn(node, 'T-retry', 'ls-tree', '--name-only', ticket.head)).split('\n').sort(), ['README.md', 'a.txt', 'b.txt', 'c.txt', 'd.txt']);
  const [join] = await sql<any>(node, `select status, blocked_by from omoi_join where ticket_id = 'T-retry'`);
  t.same(join, { status: 'merged', blocked_by: null }, 'the join C completed into while blocked merged both');
  const [retriedEvent] = (await events(node, 'T-retry', 'task.retried')).map((e) => e.payload);
  t.match(retriedEvent, { task_id: 'A', from: 'failed', status: 'pending', by: 'http:admin', reason: 'the registry is back', attempt_base: 2, ticket_status: 'running' });
  t.match((await events(node, 'T-retry', 'ticket.resumed')).map((e) => e.payload), [{ ticket_id: 'T-retry', status: 'running', task_id: 'A' }], 'ticket.resumed told');
  const audited = await sql<any>(node, `select principal, outcome from omoi_audit where command = 'task.retry' and target = 'T-retry/A'`);
  t.match(audited, [{ principal: 'admin', outcome: 'accepted' }], 'audited with who');
  // Once completed, a ticket's tasks are not retried.
  const late = await api('POST', '/api/tickets/T-retry/tasks/A/retry', {});
  t.equal((await refusal(late.json.message_id)).code, 'ticket_ended', 'a completed ticket: ticket_ended');
});

t.test('a ticket two tasks failed runs again only once both are retried; the join they feed stays blocked by the one still failed', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const flag = path.join(await tempDir(t, 'two-failed-'), 'ok');
  await node.submit('ticket.create', {
    ticket_id: 'T-two', title: 'two sources fail', repository: repo.dir, ownership: 'lenient',
    tasks: [
      task('A', `test -f ${flag} && echo a > a.txt`, { max_retries: 0 }),
      task('B', `test -f ${flag} && echo b > b.txt`, { max_retries: 0 }),
      task('J', 'test -f a.txt && test -f b.txt', { depends_on: ['A', 'B'] }),
    ],
  });
  await waitTask(node, 'T-two', 'A', 'failed');
  await waitTask(node, 'T-two', 'B', 'failed');
  await waitFor('ticket failed', async () => ((await ticketRow(node, 'T-two'))?.status === 'failed' ? true : undefined));
  await writeFile(flag, '');
  await api('POST', '/api/tickets/T-two/tasks/A/retry', {});
  await waitFor('A retried', async () => ((await events(node, 'T-two', 'task.retried')).length === 1 ? true : undefined));
  let tasks = await taskRows(node, 'T-two');
  t.equal((await ticketRow(node, 'T-two'))!.status, 'failed', 'B is still failed: the ticket stays failed');
  t.match(tasks, { A: { status: 'pending' }, J: { status: 'blocked', reason: 'source_failed:B' } }, 'A waits for its ticket; J is blocked by B now');
  const [join] = await sql<any>(node, `select status, blocked_by, reason from omoi_join where ticket_id = 'T-two'`);
  t.same(join, { status: 'blocked', blocked_by: 'source_failed', reason: 'source_failed:B' }, 'the join names the source still failed');
  t.same(await events(node, 'T-two', 'ticket.resumed'), [], 'not resumed yet');

  await api('POST', '/api/tickets/T-two/tasks/B/retry', {});
  await waitTicket(node, 'T-two', 'completed');
  tasks = await taskRows(node, 'T-two');
  t.match(tasks, { A: { status: 'completed' }, B: { status: 'completed' }, J: { status: 'completed' } }, 'both ran, the join merged them, J ran');
  t.match((await events(node, 'T-two', 'ticket.resumed')).map((e) => e.payload.task_id), ['B'], 'resumed by the second retry');
});

t.test('a cancelled task retried runs again and unblocks its dependent', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const dir = await tempDir(t, 'cancelled-');
  const go = path.join(dir, 'go');
  await node.submit('ticket.create', {
    ticket_id: 'T-uncancel', title: 'cancelled, then wanted after all', repository: repo.dir, ownership: 'lenient',
    tasks: [task('X', `test -f ${go} || sleep 600`), task('Y', 'true', { depends_on: ['X'] })],
  });
  await waitTask(node, 'T-uncancel', 'X', 'running');
  await node.submit('task.cancel', { ticket_id: 'T-uncancel', task_id: 'X', reason: 'not needed' });
  await waitTask(node, 'T-uncancel', 'Y', 'blocked');
  t.equal((await ticketRow(node, 'T-uncancel'))!.status, 'running', 'a cancelled task does not fail its ticket');
  await writeFile(go, '');
  const res = await api('POST', '/api/tickets/T-uncancel/tasks/X/retry', { reason: 'needed after all' });
  t.equal(res.status, 202);
  await waitTicket(node, 'T-uncancel', 'completed');
  const tasks = await taskRows(node, 'T-uncancel');
  t.match(tasks.X, { status: 'completed', cancelled_by: null, retried_by: 'http:admin' });
  t.match((await events(node, 'T-uncancel', 'task.retried')).map((e) => e.payload), [{ task_id: 'X', from: 'cancelled', status: 'pending' }]);

  // A cancelled ticket's tasks stay cancelled.
  await node.submit('ticket.create', { ticket_id: 'T-gone', title: 'cancelled', repository: repo.dir, tasks: [task('A', 'sleep 600')] });
  await waitTask(node, 'T-gone', 'A', 'running');
  await node.submit('ticket.cancel', { ticket_id: 'T-gone' });
  await waitTicket(node, 'T-gone', 'cancelled');
  const refused = await api('POST', '/api/tickets/T-gone/tasks/A/retry', {});
  t.equal((await refusal(refused.json.message_id)).code, 'ticket_ended', 'a cancelled ticket: ticket_ended');
});

t.test('a merge blocked by a conflict, its resolver re-run: it merges and the continuation runs', async (t) => {
  const lines = (edit: string) => Array.from({ length: 60 }, (_, i) => (i === 49 ? edit : `line ${i + 1}`)).join('\n') + '\n';
  const repo = await makeRepo(t, { 'config.py': lines('line 50') });
  const dir = await tempDir(t, 'resolver-');
  const ready = path.join(dir, 'resolver-ready');
  const edit = (text: string) => `printf '%s\\n' ${Array.from({ length: 60 }, (_, i) => (i === 49 ? `'${text}'` : `'line ${i + 1}'`)).join(' ')} > config.py`;
  // The resolver cannot work at first (its flag is missing), then can: a re-run is what it takes.
  const resolver = `test -f ${ready} || { echo "resolver not ready"; exit 1; }; sed -i -e "/^<<<<<<<\\|^=======\\|^>>>>>>>/d" -e "s/^TIMEOUT = .*/TIMEOUT = 30/" config.py && awk "!seen[\\$0]++" config.py > c.tmp && mv c.tmp config.py`;
  await node.submit('ticket.create', {
    ticket_id: 'T-rerun', title: 'conflict', repository: repo.dir, resolver_command: resolver,
    tasks: [
      task('A', edit('TIMEOUT = 10'), { owns: ['config.py'] }),
      task('B', edit('TIMEOUT = 20'), { owns: ['config.py'] }),
      task('C', 'grep -q "TIMEOUT = 30" config.py && echo ok > c.txt', { depends_on: ['A', 'B'], owns: ['c.txt'] }),
    ],
  });
  await waitTask(node, 'T-rerun', 'C', 'blocked');
  const [blocked] = await sql<any>(node, `select status, blocked_by, attempts from omoi_join where ticket_id = 'T-rerun'`);
  t.same(blocked, { status: 'blocked', blocked_by: 'merge_conflict', attempts: 1 }, 'the first attempt left the conflict');

  // Refused: both shapes at once (schema: exactly one), a join not blocked by its merge.
  const both = await api('POST', '/api/tickets/T-rerun/joins/join-C/resolve', { rerun_resolver: true, commit: 'a'.repeat(40) });
  t.equal(both.status, 400);
  t.equal(both.json.error.code, 'schema_violation');
  t.match(both.json.error.message, /give exactly one of `commit`.*or `rerun_resolver: true`/, 'the answer says what the body may be');
  const neither = await api('POST', '/api/tickets/T-rerun/joins/join-C/resolve', {});
  t.match(neither, { status: 400, json: { error: { code: 'schema_violation', message: /exactly one of/ } } });
  const unknownJoin = await api('POST', '/api/tickets/T-rerun/joins/join-A/resolve', { rerun_resolver: true });
  t.equal((await refusal(unknownJoin.json.message_id)).code, 'not_found', 'a join that does not exist');

  await writeFile(ready, '');
  const rerun = await api('POST', '/api/tickets/T-rerun/joins/join-C/resolve', { rerun_resolver: true });
  t.match(rerun, { status: 202, json: { ticket_id: 'T-rerun', join_id: 'join-C' } });
  await waitTicket(node, 'T-rerun', 'completed');
  const attempts = await sql<any>(node, `select attempt, ok, resolutions from omoi_merge_attempt where ticket_id = 'T-rerun' order by attempt`);
  t.match(attempts, [{ attempt: 1, ok: false }, { attempt: 2, ok: true, resolutions: [{ file: 'config.py', by: 'resolver' }] }], 'a second attempt, the resolver resolved it');
  const tasks = await taskRows(node, 'T-rerun');
  t.match(await gitIn(node, 'T-rerun', 'show', `${tasks.C.base_commit}:config.py`), /TIMEOUT = 30/, 'C ran on the resolved tree');
  t.equal(tasks.C.status, 'completed');
  // Merged now: a second re-run has nothing to resume.
  const again = await api('POST', '/api/tickets/T-rerun/joins/join-C/resolve', { rerun_resolver: true });
  t.equal((await refusal(again.json.message_id)).code, 'join_not_blocked_by_merge');
});

t.test('a conflict on a ticket without a resolver cannot be re-run: no_resolver', async (t) => {
  const repo = await makeRepo(t, { 'f.txt': 'base\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T-noresolver', title: 'conflict, no resolver', repository: repo.dir,
    tasks: [
      task('A', 'echo a > f.txt', { owns: ['f.txt'] }), task('B', 'echo b > f.txt', { owns: ['f.txt'] }),
      task('C', 'true', { depends_on: ['A', 'B'] }),
    ],
  });
  await waitTask(node, 'T-noresolver', 'C', 'blocked');
  const res = await api('POST', '/api/tickets/T-noresolver/joins/join-C/resolve', { rerun_resolver: true });
  t.match(await refusal(res.json.message_id), { code: 'no_resolver', reason: /has no resolver_command/ });
  const [join] = await sql<any>(node, `select status, attempts from omoi_join where ticket_id = 'T-noresolver'`);
  t.same(join, { status: 'blocked', attempts: 1 }, 'no new attempt');
});

t.test('a drained agent finishes its attempt and is offered nothing new; another agent takes the next task', async (t) => {
  const client = await withClient(t, cluster);
  const assigned: any[] = [];
  const sub = client.subscribe('omoi.agent.agent-r.assign', { callback: (_e, m) => void assigned.push(m.json()) });
  t.teardown(() => sub.unsubscribe());
  await client.flush();
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const dir = await tempDir(t, 'drain-');
  const release = path.join(dir, 'release');
  const started = path.join(dir, 'started');
  await node.submit('ticket.create', {
    ticket_id: 'T-drain', title: 'drain', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', `touch ${started}; while [ ! -f ${release} ]; do sleep 0.1; done; echo a > a.txt`)],
  });
  await waitTask(node, 'T-drain', 'A', 'running');
  await waitFor('A runs on the local agent', () => existsSync(started) || undefined);

  const drained = await api('POST', `/api/agents/${local}/drain`, { reason: 'host maintenance' });
  t.match(drained, { status: 202, json: { agent_id: local } });
  const row = await waitFor('draining', async () => (await api('GET', '/api/agents')).json.agents.find((a: any) => a.id === local && a.draining));
  t.match(row, { status: 'healthy', draining: true }, 'GET /api/agents shows the drain; its health is unchanged');
  t.ok(row.running.some((k: string) => k.startsWith('T-drain/A/')), 'it keeps its running attempt');
  const drainEvents = await sql<any>(node, `select payload from omoi_event where type = 'agent.status' and entity = ? and (payload->>'draining') is not null order by time`, [local]);
  t.match(drainEvents.map((e) => e.payload), [{ agent_id: local, status: 'healthy', draining: true, reason: 'host maintenance' }], 'an agent.status event tells');
  await api('POST', `/api/agents/${local}/drain`, {});
  // The next task finds no agent: the drained one lacks only `draining`.
  await node.submit('task.add', { ticket_id: 'T-drain', task: task('B', 'echo b > b.txt') });
  const mismatch = await waitFor('agent.mismatch for B', async () => (await events(node, 'T-drain', 'agent.mismatch')).find((e) => e.payload.task_id === 'B'));
  t.same(mismatch!.payload.candidates, [{ agent_id: local, missing: ['draining'] }], 'the drained agent is not offered B');
  t.equal((await taskRows(node, 'T-drain')).B.status, 'ready');

  // Another agent comes: B goes to it.
  await node.submit('agent.register', { agent_id: 'agent-r', name: 'r', phase: 'execute', capabilities: [], version: '1.0.0', kind: 'remote', capacity: 1 });
  await node.submit('agent.heartbeat', { agent_id: 'agent-r' });
  const offer = await waitFor('B offered to agent-r', () => assigned.find((a) => a.task_id === 'B'), { timeoutMs: 30_000 });
  t.equal((await taskRows(node, 'T-drain')).B.agent_id, 'agent-r');
  await node.submit('task.complete', { ticket_id: 'T-drain', task_id: 'B', attempt: offer.attempt });
  await waitTask(node, 'T-drain', 'B', 'completed');
  t.equal((await taskRows(node, 'T-drain')).A.status, 'running', 'A still runs on the drained agent');

  await writeFile(release, '');
  await waitTicket(node, 'T-drain', 'completed');
  t.match((await taskRows(node, 'T-drain')).A, { status: 'completed', agent_id: local, attempt: 1 }, 'the drained agent finished its attempt');
  const after = await sql<any>(node, `select count(*)::int as n from omoi_event where type = 'agent.status' and entity = ? and (payload->>'draining') is not null`, [local]);
  t.same(after, [{ n: 1 }], 'draining twice changed nothing');

  // Refused: an unknown agent, a removed one.
  const ghost = await api('POST', '/api/agents/nobody/drain', {});
  t.equal((await refusal(ghost.json.message_id)).code, 'not_found');
  await node.submit('agent.deregister', { agent_id: 'agent-r' });
  await waitFor('agent-r removed', async () => (await sql<any>(node, `select status from omoi_agent where id = 'agent-r'`))[0]?.status === 'removed' || undefined);
  const removed = await api('POST', '/api/agents/agent-r/drain', {});
  t.equal((await refusal(removed.json.message_id)).code, 'agent_removed');

  // Undrained, it is offered tasks again.
  const undrained = await api('POST', `/api/agents/${local}/undrain`, {});
  t.equal(undrained.status, 202);
  await waitFor('undrained', async () => (await api('GET', '/api/agents')).json.agents.find((a: any) => a.id === local && a.draining === false));
  await node.submit('ticket.create', { ticket_id: 'T-after-drain', title: 'after', repository: repo.dir, tasks: [task('A', 'true')] });
  await waitTicket(node, 'T-after-drain', 'completed');
  t.equal((await taskRows(node, 'T-after-drain')).A.agent_id, local, 'the undrained agent ran the next task');
  const audited = await sql<any>(node, `select command, principal from omoi_audit where command in ('agent.drain', 'agent.undrain') and target = ? order by id`, [local]);
  t.same(audited, [{ command: 'agent.drain', principal: 'admin' }, { command: 'agent.drain', principal: 'admin' }, { command: 'agent.undrain', principal: 'admin' }], 'each audited with who');
});
