import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import t from 'tap';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { TASK_CLI } from '../../src/task-api/index.ts';
import { events, sql, task, waitTask, waitTicket } from './helpers.ts';

// A runaway task cannot flood its ticket's partition through its task API: past
// OMOI_TASK_API_MAX_CALLS calls within 10 s a call is refused (429 rate_limited) before anything
// is sent or audited, and `omoi-task` waits as told and gets through.

const cluster = await withCluster(t);
const node = await withNode(t, cluster, { taskApiMaxCalls: 3 });

t.test('the fourth call within 10 s is refused with 429 and retry_after_ms; omoi-task waits and gets through', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const flags = await tempDir(t, 'flags-');
  await node.submit('ticket.create', {
    ticket_id: 'T-limit', title: 'limit', repository: repo.dir, base_branch: 'main',
    tasks: [task('W', `echo "$OMOI_TASK_SOCKET" > ${flags}/socket && echo "$OMOI_TASK_TOKEN" > ${flags}/token && while [ ! -f ${flags}/go ]; do sleep 0.05; done`, { max_retries: 0 })],
  });
  await waitFor('W\'s socket', async () => existsSync(path.join(flags, 'token')) || undefined);
  const env = {
    OMOI_TASK_SOCKET: (await readFile(path.join(flags, 'socket'), 'utf8')).trim(),
    OMOI_TASK_TOKEN: (await readFile(path.join(flags, 'token'), 'utf8')).trim(),
  };
  const progress = (n: number) => new Promise<{ status: number; retryAfter: string | undefined; body: any }>((resolve, reject) => {
    const req = request({ socketPath: env.OMOI_TASK_SOCKET, path: '/progress', method: 'POST', headers: { authorization: `Bearer ${env.OMOI_TASK_TOKEN}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ message: `step ${n}` }));
  });

  for (const n of [1, 2, 3]) t.match(await progress(n), { status: 200, body: { status: 'accepted' } }, `call ${n} is within the limit`);
  const refused = await progress(4);
  t.match(refused, { status: 429, body: { error: { code: 'rate_limited', message: /calls allowed within 10 s; try again in \d+ ms/ } } });
  t.ok(refused.body.error.retry_after_ms > 0 && refused.body.error.retry_after_ms <= 10_000, `retry_after_ms ${refused.body.error.retry_after_ms} is within the window`);
  t.match(refused.retryAfter, /^\d+$/, 'and Retry-After in seconds');

  // The client waits as the API says and gets through once the first call left the window.
  const started = Date.now();
  const cli = await new Promise<{ code: number; stdout: string }>((resolve) => {
    execFile(TASK_CLI, ['progress', 'after the wait'], { env: { PATH: process.env.PATH ?? '', ...env } }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout: String(stdout) });
    });
  });
  t.equal(cli.code, 0, 'omoi-task waited and was accepted');
  t.match(JSON.parse(cli.stdout), { status: 'accepted', type: 'task.progress' });
  t.ok(Date.now() - started >= 1_000, 'it did wait');

  await waitTask(node, 'T-limit', 'W', 'running');
  await writeFile(path.join(flags, 'go'), '');
  await waitTicket(node, 'T-limit', 'completed');
  const said = (await events(node, 'T-limit', 'task.progressed')).map((e) => e.payload.message);
  t.same(said, ['step 1', 'step 2', 'step 3', 'after the wait'], 'the refused call sent nothing');
  const audit = await sql<any>(node, `select outcome from omoi_audit where principal = 'task:T-limit/W#1' order by id`);
  t.same(audit.map((a) => a.outcome), ['accepted', 'accepted', 'accepted', 'accepted'], 'refusals for the limit are not audited: a flood of them would be a flood of rows');
});
