// A task's output through the API of any node (real nodes, NATS, PostgreSQL, git): the tail and
// the live stream of an attempt running on another node, bounded, the node's token masked; and
// the end of an ended attempt's output still shown once its node and data directory are gone;
// what a reader is told when nothing of it was kept.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { openDatabase } from '../../src/persistence/index.ts';
import { startChildNode } from '../harness/child-node.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { sql, task, waitTask, waitTicket } from '../flow/helpers.ts';
import { openStream } from './sse-client.ts';

const TOKEN = 'test-token'; // withNode's API token, the same on both nodes

async function get(base: string, p: string): Promise<{ status: number; json: any }> {
  const res = await fetch(new URL(p, base), { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, json: await res.json() };
}

t.test('tail and live stream of a task running on another node, bounded and masked', async (t) => {
  const cluster = await withCluster(t);
  const runner = await withNode(t, cluster);
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'omoi-output-'));
  const gate = path.join(dir, 'go');
  const run = [
    'for i in 1 2 3; do echo "line-$i"; done',
    `echo "token=${TOKEN}"`,
    `while [ ! -f ${gate} ]; do sleep 0.05; done`,
    'echo after-gate; sleep 1',
    // ~200 KB at once: more than a tail (64 KiB) or a follower's look (64 KiB) carries.
    'i=0; while [ $i -lt 3000 ]; do i=$((i+1)); echo "bulk-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; done',
    'echo last-line',
  ].join('; ');
  await runner.submit('ticket.create', { ticket_id: 'T-out', title: 'output', repository: repo.dir, tasks: [task('L', run, { timeout_ms: 120_000 })] });
  await waitTask(runner, 'T-out', 'L', 'running');

  // A second node, started after the attempt began: the output is not on its disk.
  const reader = await withNode(t, cluster, { sseMaxClients: 1 });
  const base = reader.httpUrl;
  const tail = await waitFor('the output read through the other node', async () => {
    const res = await get(base, '/api/tickets/T-out/tasks/L/log?tail=3');
    return res.status === 200 && res.json.available && res.json.lines.includes('line-3') ? res.json : undefined;
  });
  t.match(tail, { ticket_id: 'T-out', task_id: 'L', attempt: 1, running: true, node_id: runner.config.nodeId, truncated: true });
  t.same(tail.lines, ['line-2', 'line-3', 'token=**********'], 'the last 3 lines, the node\'s token masked');

  const stream = await openStream(base, '/api/tickets/T-out/tasks/L/log/stream?tail=2', { authorization: `Bearer ${TOKEN}` });
  t.equal(stream.status, 200);
  await stream.until((es) => es.some((e) => e.event === 'tail'), 'the tail');
  const first = JSON.parse(stream.events[0]!.data);
  t.match(first, { available: true, node_id: runner.config.nodeId, lines: ['line-3', 'token=**********'] }, 'the stream starts with the tail');
  const second = await openStream(base, '/api/tickets/T-out/tasks/L/log/stream', { authorization: `Bearer ${TOKEN}` });
  t.match({ status: second.status, json: second.json }, { status: 503, json: { error: { code: 'too_many_streams' } } }, 'log streams are capped per node');
  writeFileSync(gate, '');
  await stream.until((es) => es.some((e) => e.event === 'end'), 'the end of the attempt', 60_000);
  const outputs = stream.events.filter((e) => e.event === 'output').map((e) => JSON.parse(e.data));
  const text = outputs.map((o) => o.text).join('');
  t.equal(text.slice(0, 11), 'after-gate\n', 'live output follows the tail, nothing repeated');
  t.match(text, /last-line\n$/, 'and runs to the last line');
  t.ok(outputs.every((o) => Buffer.byteLength(o.text) <= 64 * 1024), 'no chunk over 64 KiB');
  const skip = outputs.find((o) => o.skipped);
  t.ok(skip, 'output faster than a look carries is skipped, and said so');
  t.match(skip?.text, /^bulk-\d+-x+\n/, 'from a line\'s start');
  t.ok(text.length < 150_000, 'the bulk was not all sent');
  t.ok(outputs.every((o, i) => i === 0 || o.offset >= outputs[i - 1].offset), 'in order');
  t.same(JSON.parse(stream.events.at(-1)!.data), { reason: 'done' }, 'ends when the command ended');
  await stream.ended;
  t.notMatch(JSON.stringify(stream.events), TOKEN, 'the token never appears');

  await waitTicket(runner, 'T-out', 'completed');
  const big = await get(base, '/api/tickets/T-out/tasks/L/log?tail=2000');
  t.equal(big.json.truncated, true, 'a log over 64 KiB is cut');
  t.ok(Buffer.byteLength(big.json.lines.join('\n')) <= 64 * 1024, 'a tail carries at most 64 KiB');
  t.equal(big.json.lines.at(-1), 'last-line');
  t.match(big.json.lines[0], /^bulk-\d+-x+$/, 'whole lines only');
  t.equal(big.json.running, false);

  const detail = await get(base, '/api/tickets/T-out/tasks/L');
  t.equal(detail.status, 200);
  t.match(detail.json.task, { id: 'L', status: 'completed', attempt: 1, commit: /^[0-9a-f]{40}$/, claims: null });
  t.match(detail.json.attempts, [{ attempt: 1, agent_id: `local-${runner.config.nodeId}`, status: 'completed', outcome: 'completed', started_at: /Z$/, ended_at: /Z$/, usage: { wall_ms: Number } }]);

  // Bad input is answered.
  t.match(await get(base, '/api/tickets/T-out/tasks/L/log?tail=5000'), { status: 400, json: { error: { code: 'invalid_query', field: 'query.tail' } } });
  t.match(await get(base, '/api/tickets/T-out/tasks/L/log?attempt=9'), { status: 404, json: { error: { code: 'not_found' } } });
  t.match(await get(base, '/api/tickets/T-out/tasks/nope'), { status: 404, json: { error: { code: 'not_found' } } });

  // The node that ran it goes away and its data directory is deleted: the end of the output was
  // kept when the command ended, and any node still shows it.
  await waitFor('the end of the output kept', async () => (await sql(reader, `select 1 from omoi_task_log where ticket_id = 'T-out' and task_id = 'L' and attempt = 1`)).length > 0 || undefined);
  await runner.stop();
  rmSync(runner.config.dataDir, { recursive: true, force: true });
  const gone = await get(base, '/api/tickets/T-out/tasks/L/log?tail=2');
  t.match(gone.json, { available: true, node_id: runner.config.nodeId, running: false, truncated: true, lines: [/^bulk-3000-x+$/, 'last-line'] }, 'shown from what was kept');
  t.equal(gone.json.size, big.json.size, 'the whole log\'s size, as its node said');
  const keptWhole = await get(base, '/api/tickets/T-out/tasks/L/log?tail=2000');
  t.same(keptWhole.json.lines, big.json.lines, 'the same 64 KiB its node answered');
  const early = await get(base, '/api/tickets/T-out/tasks/L/log?tail=3&attempt=1');
  t.equal(early.json.lines.length, 3);
  t.notOk(existsSync(path.join(reader.config.dataDir, 'logs', 'T-out')), 'the reader never had it on disk');
});

t.test('an attempt whose node was killed -9 while it ran has nothing kept: the reader says no live node has it', async (t) => {
  const cluster = await withCluster(t);
  const db = await openDatabase(cluster.databaseUrl, pino({ level: 'silent' }));
  t.teardown(() => db.close());
  const rows = async (q: string) => (await db.em().getConnection().execute(q)) as any[];
  const runner = await startChildNode(t, cluster, await tempDir(t, 'omoi-output-kill-'), 'output-kill-1');
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const nc = await withClient(t, cluster);
  nc.publish('omoi.in.ticket.create', JSON.stringify({ ticket_id: 'T-lost', title: 'lost', repository: repo.dir, tasks: [task('L', 'echo started; sleep 600', { timeout_ms: 900_000 })] }));
  await waitFor('the attempt running on the first node', async () => (await rows(`select 1 from omoi_task where ticket_id = 'T-lost' and id = 'L' and status = 'running' and attempt = 1`)).length > 0 || undefined);
  // A reader started after the attempt began (the attempt is the first node's), then the first node killed.
  const reader = await withNode(t, cluster);
  await waitFor('its output readable through the reader', async () => (await get(reader.httpUrl, '/api/tickets/T-lost/tasks/L/log?attempt=1')).json.available || undefined);
  const exited = new Promise((r) => runner.once('exit', r));
  runner.kill('SIGKILL');
  await exited;
  const gone = await get(reader.httpUrl, '/api/tickets/T-lost/tasks/L/log?attempt=1');
  t.match(gone.json, { available: false, lines: [], note: /no live node has the output of attempt 1/ });
  t.same(await rows(`select attempt from omoi_task_log where ticket_id = 'T-lost'`), [], 'nothing was kept: its command never ended on its node');
});
