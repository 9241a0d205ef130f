import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { events, filesAt, gitIn, task, taskRows, waitTask, waitTicket } from './helpers.ts';

// Task checks (issue 11, item 4): a task's `check` runs in its sandbox after it succeeded; a
// failing check fails the attempt retryably (`check_failed`) and the next attempt's context holds
// the check's output, so the agent can fix what failed.

const cluster = await withCluster(t);
const node = await withNode(t, cluster);

async function api(route: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${node.httpUrl}${route}`, { headers: { authorization: `Bearer ${node.apiToken}` } });
  return { status: res.status, json: await res.json() };
}

t.test('a check that fails on attempt 1 passes on attempt 2, which was told what failed', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const seen = await tempDir(t, 'check-seen-');
  // The "agent": it fixes its work only once its task file says what the check found.
  const told = `node -e 'process.exit(require(process.env.OMOI_TASK_FILE).context.previous_attempt ? 0 : 1)'`;
  const run = `cp "$OMOI_TASK_FILE" '${seen}'/task-$OMOI_ATTEMPT.json; if ${told}; then echo fixed > out.txt; else echo broken > out.txt; fi`;
  // The check sees the task's changes and its environment; what it writes is never committed;
  // it prints the node's API token, which must reach no report unmasked.
  const check = `echo artifact > check-artifact.txt; test "$OMOI_TASK_ID" = A || exit 9; grep -q fixed out.txt || { echo "out.txt says $(cat out.txt) ${node.apiToken}"; exit 3; }`;
  await node.submit('ticket.create', {
    ticket_id: 'T-check-retry', title: 'check', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', run, { check, acceptance: ['AC-1', 'AC-2'], max_retries: 2 })],
  });
  await waitTicket(node, 'T-check-retry', 'completed');
  const A = (await taskRows(node, 'T-check-retry')).A;
  t.equal(A.attempt, 2, 'the failed check cost one attempt');
  t.equal((await gitIn(node, 'T-check-retry', 'show', `${A.commit}:out.txt`)).trim(), 'fixed', 'the second attempt\'s work is what completed');
  t.same(await filesAt(node, 'T-check-retry', A.commit), ['README.md', 'out.txt'], 'the check\'s by-product is not in the commit');

  const first = JSON.parse(await readFile(path.join(seen, 'task-1.json'), 'utf8'));
  t.notOk('previous_attempt' in (first.context ?? {}), 'the first attempt had nothing to fix');
  t.equal(first.task.check, check, 'the task file names the check');
  const second = JSON.parse(await readFile(path.join(seen, 'task-2.json'), 'utf8'));
  const previous = second.context.previous_attempt;
  t.match(previous, { attempt: 1, reason: 'check_failed', check: { command: check, exit_code: 3, timed_out: false } }, 'the second attempt\'s task file says how the check failed');
  t.match(previous.check.output, /out\.txt says broken \*{10}/, 'with the check\'s output, the API token masked');
  t.notOk(previous.check.output.includes(node.apiToken), 'never the token itself');

  const failed = await events(node, 'T-check-retry', 'task.check_failed');
  t.equal(failed.length, 1);
  t.match(failed[0]!.payload, { task_id: 'A', attempt: 1, command: check, exit_code: 3, timed_out: false, retry: true });
  const passed = await events(node, 'T-check-retry', 'task.check_passed');
  t.same(passed.map((e) => e.payload), [{ ticket_id: 'T-check-retry', task_id: 'A', attempt: 2, command: check }]);

  const detail = await api('/api/tickets/T-check-retry/tasks/A');
  t.equal(detail.status, 200);
  t.equal(detail.json.task.spec.check, check, 'the API shows the check');
  t.same(detail.json.task.spec.acceptance, ['AC-1', 'AC-2'], 'and the acceptance criteria it verifies');
  t.match(detail.json.attempts, [
    { attempt: 1, check: { passed: false, exit_code: 3, timed_out: false, output: /out\.txt says broken/ } },
    { attempt: 2, check: { passed: true, exit_code: 0 } },
  ], 'each attempt shows how its check ended');
  // The attempt's log holds the check's output after a marker line.
  const log = await api('/api/tickets/T-check-retry/tasks/A/log?attempt=1');
  t.match(log.json.lines.join('\n'), /--- omoi: check: [^\n]*\n[^]*out\.txt says broken/, 'the log shows where the check begins');
});

t.test('a check that always fails: the task fails after its retries with reason check_failed', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T-check-fails', title: 'check', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', 'echo work > work.txt', { check: 'echo "2 tests failing"; exit 1', max_retries: 1 })],
  });
  await waitTicket(node, 'T-check-fails', 'failed');
  const A = (await taskRows(node, 'T-check-fails')).A;
  t.equal(A.status, 'failed');
  t.equal(A.attempt, 2, 'max_retries counted the failed checks');
  t.match(A.reason, /^task_failed: check_failed: the check exited with code 1\n2 tests failing/, 'the reason says the check failed, with its output');
  const failed = (await events(node, 'T-check-fails', 'task.check_failed')).map((e) => e.payload);
  t.match(failed, [{ attempt: 1, retry: true, exit_code: 1 }, { attempt: 2, retry: false, exit_code: 1 }], 'the last failure is not retried');
  t.equal((await events(node, 'T-check-fails', 'task.check_passed')).length, 0);
});

t.test('a failing task command\'s own output is masked in its failure report, as a check\'s is', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T-fail-masked', title: 'mask', repository: repo.dir,
    tasks: [task('A', `echo "leaked ${node.apiToken}"; exit 4`, { max_retries: 0 })],
  });
  await waitTicket(node, 'T-fail-masked', 'failed');
  const A = (await taskRows(node, 'T-fail-masked')).A;
  t.match(A.reason, /leaked \*{10}/, 'the output is in the reason, the token masked');
  t.notOk(A.reason.includes(node.apiToken), 'never the token itself');
});

t.test('a check that runs out of the task\'s time fails the attempt as timed out', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T-check-slow', title: 'check', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', 'echo work > work.txt', { check: 'echo starting; sleep 30', timeout_ms: 1500, max_retries: 0 })],
  });
  await waitTicket(node, 'T-check-slow', 'failed');
  const [failed] = (await events(node, 'T-check-slow', 'task.check_failed')).map((e) => e.payload);
  t.match(failed, { attempt: 1, timed_out: true, exit_code: null, retry: false, output: /starting/ });
  t.match((await taskRows(node, 'T-check-slow')).A.reason, /check_failed: the check timed out/);
});

t.test('the check runs under the task\'s isolation: no node data dir, and no network with network: false', async (t) => {
  const server = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  const reach = `node -e 'require("net").connect(${port}, "127.0.0.1").on("connect", () => process.exit(0)).on("error", (e) => { console.error("cannot connect: " + e.code); process.exit(3); })'`;
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  // A file in the node's data dir (where its API token, stores and other tickets' logs live).
  const secret = path.join(node.config.dataDir, 'check-secret.txt');
  await writeFile(secret, 'not for tasks\n');
  await node.submit('ticket.create', {
    ticket_id: 'T-check-iso', title: 'check isolation', repository: repo.dir, ownership: 'lenient', network: false,
    tasks: [
      task('datadir', 'true', { check: `cat '${secret}'`, max_retries: 0 }),
      task('net', 'true', { check: reach, max_retries: 0 }),
    ],
  });
  await waitTicket(node, 'T-check-iso', 'failed');
  await waitTask(node, 'T-check-iso', 'net', 'failed');
  const failed = Object.fromEntries((await events(node, 'T-check-iso', 'task.check_failed')).map((e) => [e.payload.task_id, e.payload]));
  t.match(failed.datadir, { exit_code: 1, output: /check-secret\.txt: No such file or directory/ }, 'the node\'s data dir is hidden from the check');
  t.match(failed.net, { exit_code: 3, output: /cannot connect: ECONNREFUSED/ }, 'network: false holds for the check');
});

t.test('a passing check: the task completes at once', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T-check-ok', title: 'check', repository: repo.dir, ownership: 'lenient',
    tasks: [task('A', 'echo work > work.txt', { check: 'grep -q work work.txt' }), task('B', 'echo no check > b.txt')],
  });
  await waitTicket(node, 'T-check-ok', 'completed');
  const rows = await taskRows(node, 'T-check-ok');
  t.equal(rows.A.attempt, 1);
  t.same((await events(node, 'T-check-ok', 'task.check_passed')).map((e) => e.payload.task_id), ['A'], 'a task without a check has no check event');
  t.equal((await events(node, 'T-check-ok', 'task.check_failed')).length, 0);
  const detail = await api('/api/tickets/T-check-ok/tasks/B');
  t.equal(detail.json.attempts[0].check, null, 'no check, no check outcome');
});

t.test('a bad check or acceptance list is refused at ticket.create with schema_violation', async (t) => {
  const create = (id: string, more: Record<string, unknown>) => node.submit('ticket.create', {
    ticket_id: id, title: 'bad', repository: '/nonexistent', tasks: [task('A', 'true', more)],
  });
  await t.rejects(create('T-bad-1', { check: '' }), { code: 'schema_violation', message: /\/tasks\/0\/check/ }, 'empty');
  await t.rejects(create('T-bad-2', { check: '  \t ' }), { code: 'schema_violation', message: /\/tasks\/0\/check/ }, 'blank');
  await t.rejects(create('T-bad-3', { check: 'x'.repeat(10_001) }), { code: 'schema_violation', message: /\/tasks\/0\/check/ }, 'too long');
  await t.rejects(create('T-bad-4', { check: 42 }), { code: 'schema_violation' }, 'not a string');
  await t.rejects(create('T-bad-5', { acceptance: ['AC-1', 'AC-1'] }), { code: 'schema_violation', message: /\/tasks\/0\/acceptance/ }, 'duplicate acceptance ids');
  await t.rejects(create('T-bad-6', { acceptance: ['two words'] }), { code: 'schema_violation' }, 'an acceptance id is one short word');
  await t.rejects(create('T-bad-7', { acceptance: ['x'.repeat(101)] }), { code: 'schema_violation' }, 'too long an acceptance id');
});

t.test('a remote agent\'s assignment carries the check; its reports drive the same retries', async (t) => {
  const client = await withClient(t, cluster);
  const assignments: any[] = [];
  const sub = client.subscribe('omoi.agent.checker.assign', { callback: (_e, m) => void assignments.push(m.json()) });
  t.teardown(() => sub.unsubscribe());
  await client.flush();
  await node.submit('agent.register', { agent_id: 'checker', name: 'checker', phase: 'verify', capabilities: [], version: '1.0.0', kind: 'remote', capacity: 1 });
  await node.submit('agent.heartbeat', { agent_id: 'checker' });
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T-check-remote', title: 'remote check', repository: repo.dir, ownership: 'lenient',
    tasks: [task('R', 'make it', { phase: 'verify', check: 'npm test', max_retries: 3 })],
  });
  const assigned = (n: number) => waitFor(`assignment ${n}`, () => assignments.find((a) => a.attempt === n), { timeoutMs: 30_000 });
  const ref = { ticket_id: 'T-check-remote', task_id: 'R' };

  const a1 = await assigned(1);
  t.equal(a1.check, 'npm test', 'the assignment carries the check');
  // A completion that does not say the check passed is refused: the attempt fails retryably.
  await node.submit('task.started', { ...ref, attempt: 1 });
  await node.submit('task.complete', { ...ref, attempt: 1 });
  const a2 = await assigned(2);
  t.notOk('previous_attempt' in a2.context, 'a failure other than a check says nothing of a check');
  t.match((await events(node, 'T-check-remote', 'task.status')).find((e) => e.payload.attempt === 1 && e.payload.status === 'ready')?.payload.reason, /check_not_run/);

  await node.submit('task.started', { ...ref, attempt: 2 });
  await node.submit('task.fail', { ...ref, attempt: 2, error: 'check_failed: npm test exited with 1', retryable: true, reason: 'check_failed', check: { exit_code: 1, output: 'x'.repeat(5000) + 'FAIL test/a.test.ts' } });
  const a3 = await assigned(3);
  t.match(a3.context.previous_attempt, { attempt: 2, reason: 'check_failed', check: { command: 'npm test', exit_code: 1, timed_out: false } }, 'the next assignment says how the check failed');
  t.equal(a3.context.previous_attempt.check.output.length, 4000, 'the output\'s tail, bounded');
  t.match(a3.context.previous_attempt.check.output, /FAIL test\/a\.test\.ts$/);

  // Another kind of failure next: what the earlier check said is no longer the latest news.
  await node.submit('task.started', { ...ref, attempt: 3 });
  await node.submit('task.fail', { ...ref, attempt: 3, error: 'network hiccup', retryable: true });
  const a4 = await assigned(4);
  t.notOk('previous_attempt' in a4.context, 'a stale previous_attempt is dropped after another failure');

  await node.submit('task.started', { ...ref, attempt: 4 });
  await node.submit('task.complete', { ...ref, attempt: 4, check: { exit_code: 0 } });
  await waitTask(node, 'T-check-remote', 'R', 'completed');
  t.same((await events(node, 'T-check-remote', 'task.check_passed')).map((e) => e.payload.attempt), [4]);
});
