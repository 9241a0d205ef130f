import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import t from 'tap';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { TASK_CLI } from '../../src/task-api/index.ts';
import { events, filesAt, sql, task, taskRows, waitTask, waitTicket } from './helpers.ts';

// Issue 14, item 1: a running task discovers work through its own task API (src/task-api):
// `omoi-task` inside the sandbox, a unix socket and a token that exist only while it runs.

const cluster = await withCluster(t);
const node = await withNode(t, cluster);
const gate = (dir: string, name: string) => `while [ ! -f ${dir}/${name} ]; do sleep 0.05; done`;

/** Runs `omoi-task` on the test's side, with the environment a task had. */
function omoiTask(env: Record<string, string>, ...args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TASK_CLI, args, { env: { PATH: process.env.PATH ?? '', ...env } }, (err, _out, stderr) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stderr: String(stderr) });
    });
  });
}

t.test('a task discovers two parallel follow-ups and a continuation: they run in parallel, the continuation joins them, the ticket completes', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const flags = await tempDir(t, 'flags-');
  // B1 and B2 each wait for the other: they finish only if they run at the same time.
  const meet = (me: string, other: string) => `touch ${flags}/${me} && ${gate(flags, other)}`;
  const discover = [
    `echo "$OMOI_TASK_SOCKET" > ${flags}/a.socket`,
    `echo "$OMOI_TASK_TOKEN" > ${flags}/a.token`,
    'omoi-task progress "found two follow-ups" --percent 50',
    `omoi-task split --task 'B1=${meet('B1', 'B2')} && echo b1 > b1.txt=b1.txt' --task 'B2=${meet('B2', 'B1')} && echo b2 > b2.txt=b2.txt'`
      + ` --continuation 'C=test -f b1.txt && test -f b2.txt && echo c > c.txt=c.txt' > "$OMOI_RESULT_FILE"`,
    'echo a > a.txt',
  ].join(' && ');
  await node.submit('ticket.create', {
    ticket_id: 'T-disc', title: 'discovery', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', discover, { owns: ['a.txt'], max_retries: 0 }),
      task('Z', 'test -f c.txt && echo z > z.txt', { depends_on: ['A'], owns: ['z.txt'] }),
    ],
  });
  const ticket = await waitTicket(node, 'T-disc', 'completed');
  const tasks = await taskRows(node, 'T-disc');
  t.match(tasks.A.result, { status: 'accepted', type: 'task.split', ticket_id: 'T-disc', task_id: 'A', attempt: 1 }, 'the split was answered with the TicketActor\'s verdict');
  t.same(tasks.B1.depends_on, ['A'], 'discovered tasks start from the splitting task\'s head');
  t.same(tasks.B2.depends_on, ['A']);
  t.same(tasks.C.depends_on, ['B1', 'B2'], 'the continuation waits on both');
  t.same(tasks.Z.depends_on, ['C'], 'A\'s dependant now waits on the continuation');
  const [join] = await sql<any>(node, `select * from omoi_join where ticket_id = 'T-disc'`);
  t.equal(join.id, 'join-C', 'a join, as for any other split');
  t.equal(join.status, 'merged');
  t.equal(tasks.C.base_commit, join.merge_commit, 'the continuation ran on the merge of both branches');
  t.same(await filesAt(node, 'T-disc', ticket.head), ['README.md', 'a.txt', 'b1.txt', 'b2.txt', 'c.txt', 'z.txt'], 'every discovered task\'s file is in the final head');

  const progressed = await events(node, 'T-disc', 'task.progressed');
  t.same(progressed.map((e) => e.payload), [{ ticket_id: 'T-disc', task_id: 'A', attempt: 1, message: 'found two follow-ups', percent: 50 }], 'the progress report is an event');
  const audit = await sql<any>(node, `select principal, channel, command, target, outcome from omoi_audit where principal = 'task:T-disc/A#1' order by id`);
  t.same(audit, [
    { principal: 'task:T-disc/A#1', channel: 'task', command: 'task.progress', target: 'T-disc/A', outcome: 'accepted' },
    { principal: 'task:T-disc/A#1', channel: 'task', command: 'task.split', target: 'T-disc/A', outcome: 'accepted' },
  ], 'each call is audited under the attempt\'s principal');

  // The attempt is over: its API is gone with it.
  const socket = (await readFile(path.join(flags, 'a.socket'), 'utf8')).trim();
  const token = (await readFile(path.join(flags, 'a.token'), 'utf8')).trim();
  t.notOk(existsSync(socket), 'the socket was removed when the attempt ended');
  const late = await omoiTask({ OMOI_TASK_SOCKET: socket, OMOI_TASK_TOKEN: token }, 'add', '--id', 'LATE', '--run', 'true');
  t.equal(late.code, 3, 'a call after the attempt ended: no task API (exit 3)');
  t.match(late.stderr, /the task API does not answer/);
  t.notOk((await taskRows(node, 'T-disc')).LATE, 'nothing was added');
});

t.test('refused calls: an unknown dependency, a cycle, another ticket, a bad id, another attempt\'s token; nothing changes', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const flags = await tempDir(t, 'flags-');
  const cycle = JSON.stringify({ tasks: [{ id: 'P', run: 'true', depends_on: ['Q'] }, { id: 'Q', run: 'true', depends_on: ['P'] }], continuation: { id: 'K', run: 'true' } });
  const other = JSON.stringify({ ticket_id: 'T-other', tasks: [{ id: 'P', run: 'true' }], continuation: { id: 'K', run: 'true' } });
  const tries = (name: string, call: string) => `{ ${call} 2> ${flags}/${name}.err; echo $? > ${flags}/${name}.rc; }`;
  const refusals = [
    tries('unknown', 'omoi-task add --id X --run true --depends-on nope'),
    `printf '%s' '${cycle}' > ${flags}/cycle.json`,
    tries('cycle', `omoi-task split --file ${flags}/cycle.json`),
    `printf '%s' '${other}' > ${flags}/other.json`,
    tries('other', `omoi-task split --file ${flags}/other.json`),
    tries('badid', 'omoi-task add --id "no spaces" --run true'),
    gate(flags, 's.token'),
    tries('token', `OMOI_TASK_TOKEN="$(cat ${flags}/s.token)" omoi-task progress "not mine"`),
    `touch ${flags}/r.done`,
  ].join(' && ');
  await node.submit('ticket.create', {
    ticket_id: 'T-refuse', title: 'refusals', repository: repo.dir, base_branch: 'main', ownership: 'lenient',
    tasks: [
      task('R', refusals, { max_retries: 0 }),
      // Runs at the same time as R and hands it its own token.
      task('S', `echo "$OMOI_TASK_TOKEN" > ${flags}/s.token && ${gate(flags, 'r.done')}`, { max_retries: 0 }),
    ],
  });
  await waitTicket(node, 'T-refuse', 'completed');
  const result = async (name: string) => ({
    rc: (await readFile(path.join(flags, `${name}.rc`), 'utf8')).trim(),
    err: await readFile(path.join(flags, `${name}.err`), 'utf8'),
  });
  t.match(await result('unknown'), { rc: '1', err: /unknown_dependency: task "X" depends on "nope"/ }, 'an unknown dependency: its code and what is wrong');
  t.match(await result('cycle'), { rc: '1', err: /cycle: the tasks form a cycle: (P → Q → P|Q → P → Q)/ }, 'a cycle: the cycle in the error');
  t.match(await result('other'), { rc: '1', err: /not_own_attempt: .*T-refuse.*T-other/ }, 'another ticket: refused, not redirected');
  t.match(await result('badid'), { rc: '1', err: /schema_violation: .*\(at \/id\)/ }, 'a bad task id: the schema\'s error, at the field of the body');
  t.match(await result('token'), { rc: '1', err: /unauthorized/ }, 'another attempt\'s token is refused');
  t.same(Object.keys(await taskRows(node, 'T-refuse')).sort(), ['R', 'S'], 'no refused call added a task');
  t.same(await events(node, 'T-refuse', 'task.progressed'), [], 'the call with the wrong token sent nothing');
  const audit = await sql<any>(node, `select command, outcome from omoi_audit where principal = 'task:T-refuse/R#1' order by id`);
  t.same(audit.map((a) => a.outcome), ['refused:unknown_dependency', 'refused:cycle', 'refused:not_own_attempt', 'refused:schema_violation', 'refused:unauthorized'], 'each refusal is audited with its code');
});

t.test('with network: false and no writable /tmp the task still reaches its API; an added task continues from it', async (t) => {
  const own = await withCluster(t);
  const isolated = await withNode(t, own, { sandboxWritable: [] });
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await isolated.submit('ticket.create', {
    ticket_id: 'T-offline', title: 'offline discovery', repository: repo.dir, base_branch: 'main', network: false,
    tasks: [task('N', `omoi-task add --id N2 --run 'test -f n.txt && echo n2 > n2.txt' --owns n2.txt --depends-on "$OMOI_TASK_ID" > "$OMOI_RESULT_FILE" && echo n > n.txt`, { owns: ['n.txt'], max_retries: 0 })],
  });
  const ticket = await waitTicket(isolated, 'T-offline', 'completed');
  const tasks = await taskRows(isolated, 'T-offline');
  t.match(tasks.N.result, { status: 'accepted', type: 'task.add' });
  t.equal(tasks.N2.base_commit, tasks.N.commit, 'the added task started from its parent\'s commit');
  t.same(await filesAt(isolated, 'T-offline', ticket.head), ['README.md', 'n.txt', 'n2.txt']);
});

t.test('the API answers a raw HTTP client too (curl\'s way), and refuses a missing token and unknown paths', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const flags = await tempDir(t, 'flags-');
  await node.submit('ticket.create', {
    ticket_id: 'T-raw', title: 'raw', repository: repo.dir, base_branch: 'main',
    tasks: [task('W', `echo "$OMOI_TASK_SOCKET" > ${flags}/socket && echo "$OMOI_TASK_TOKEN" > ${flags}/token && ${gate(flags, 'go')}`, { max_retries: 0 })],
  });
  await waitFor('W\'s socket', async () => existsSync(path.join(flags, 'token')) || undefined);
  const socketPath = (await readFile(path.join(flags, 'socket'), 'utf8')).trim();
  const token = (await readFile(path.join(flags, 'token'), 'utf8')).trim();
  const post = (url: string, body: unknown, auth?: string) => new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = request({ socketPath, path: url, method: 'POST', headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
  const missing = await post('/progress', { message: 'x' });
  t.match(missing, { status: 401, body: { error: { code: 'unauthorized' } } });
  const unknown = await post('/delete', {}, `Bearer ${token}`);
  t.match(unknown, { status: 404, body: { error: { code: 'not_found' } } });
  const ok = await post('/progress', { message: 'half way', percent: 50 }, `Bearer ${token}`);
  t.match(ok, { status: 200, body: { status: 'accepted', type: 'task.progress', task_id: 'W' } });
  await waitTask(node, 'T-raw', 'W', 'running');
  await writeFile(path.join(flags, 'go'), '');
  await waitTicket(node, 'T-raw', 'completed');
  t.match((await events(node, 'T-raw', 'task.progressed')).map((e) => e.payload), [{ task_id: 'W', message: 'half way', percent: 50 }]);
});
