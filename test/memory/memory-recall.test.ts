import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import t from 'tap';
import { MemoryRecall, MemoryStore, MEMORY_INDEX_CONSUMER } from '../../src/memory/index.ts';
import { openDatabase } from '../../src/persistence/index.ts';
import { encode, makeEnvelope, Subjects } from '../../src/protocol/index.ts';
import { runOmoi } from '../cli/run-omoi.ts';
import { makeRepo, waitFor } from '../harness/index.ts';
import { withClient, withCluster, withNode } from '../harness/node.ts';
import { gitIn, sql, task, taskRows, waitTicket } from '../flow/helpers.ts';

/**
 * Memory of past work on a real node (NATS, PostgreSQL, git): a completed task's result and a
 * merge the resolver resolved are indexed once per event; a later task on the same repository
 * finds them in its task file's context (`context.memory`), a task on another repository does
 * not; the API and the CLI search them; a query with no searchable word is a 400.
 */
const cluster = await withCluster(t);
const node = await withNode(t, cluster);
const repoA = await makeRepo(t, { 'README.md': 'app\n', 'config.py': lines(60) });
const repoB = await makeRepo(t, { 'README.md': 'other\n' });
/** The command a task runs to leave its task file (what it was given) on its branch. */
const KEEP_TASK_FILE = 'mkdir -p notes && cp "$OMOI_TASK_FILE" notes/task-file.json';

function lines(n: number, edits: Record<number, string> = {}): string {
  return Array.from({ length: n }, (_, i) => edits[i + 1] ?? `line ${i + 1}`).join('\n') + '\n';
}

/** The task file a completed task saw, read back from the commit on its branch. */
async function taskFileOf(ticket: string, taskId: string): Promise<any> {
  const { [taskId]: row } = await taskRows(node, ticket);
  return JSON.parse(await gitIn(node, ticket, 'show', `${row!.commit}:notes/task-file.json`));
}

async function memoryRows(ticket: string): Promise<any[]> {
  return sql(node, 'select kind, repository, ticket_id, task_id, join_id, title, body, files, resolutions, commit from omoi_memory where ticket_id = ? order by id', [ticket]);
}

async function api(path: string): Promise<{ status: number; json: any }> {
  const res = await fetch(node.httpUrl + path, { headers: { authorization: `Bearer ${node.apiToken}` } });
  return { status: res.status, json: await res.json() };
}

t.test('a task whose context holds a relevant earlier result; another repository gets none', async (t) => {
  const result = { summary: 'added the parser for config files', files: ['src/config/parser.ts'] };
  await node.submit('ticket.create', {
    ticket_id: 'M1', title: 'config parsing', repository: repoA.dir, base_branch: 'main',
    tasks: [task('A', `echo '${JSON.stringify(result)}' > "$OMOI_RESULT_FILE"`, { title: 'add the parser for config files', owns: ['src/config/**'] })],
  });
  await waitTicket(node, 'M1', 'completed');
  const [row] = await waitFor('M1/A remembered', async () => (await memoryRows('M1')).length > 0 && memoryRows('M1'));
  t.match(row, { kind: 'task_result', repository: repoA.dir, ticket_id: 'M1', task_id: 'A', files: ['src/config/**'] }, 'the result is indexed under its repository');
  t.same(JSON.parse(row.body), result, 'with the task\'s JSON result');

  await node.submit('ticket.create', {
    ticket_id: 'M2', title: 'parser fix', repository: repoA.dir, base_branch: 'main',
    tasks: [task('B', KEEP_TASK_FILE, { title: 'fix a bug in the config parser', owns: ['notes/**'] })],
  });
  await node.submit('ticket.create', {
    ticket_id: 'M3', title: 'parser fix elsewhere', repository: repoB.dir, base_branch: 'main',
    tasks: [task('B', KEEP_TASK_FILE, { title: 'fix a bug in the config parser', owns: ['notes/**'] })],
  });
  await waitTicket(node, 'M2', 'completed');
  await waitTicket(node, 'M3', 'completed');

  const file = await taskFileOf('M2', 'B');
  const recalled = file.context?.memory?.results ?? [];
  t.ok(recalled.length >= 1 && recalled.length <= 3, `a few results recalled (${recalled.length})`);
  t.match(recalled[0], { kind: 'task_result', ticket_id: 'M1', task_id: 'A', title: /add the parser for config files/, excerpt: /added the parser for config files/ }, 'the earlier result comes first');
  t.same(file.context.memory.conflicts, [], 'no conflict on its files before');
  const elsewhere = await taskFileOf('M3', 'B');
  t.equal(elsewhere.context?.memory, undefined, 'a task on another repository recalls nothing of this one');
});

t.test('a merge resolved by the resolver is indexed and shows up for a later task touching the same file', async (t) => {
  const edit = (text: string) => `printf '%s\\n' ${Array.from({ length: 60 }, (_, i) => (i === 49 ? `'${text}'` : `'line ${i + 1}'`)).join(' ')} > config.py`;
  const resolver = 'sed -i -e "/^<<<<<<<\\|^=======\\|^>>>>>>>/d" -e "s/^TIMEOUT = .*/TIMEOUT = 30/" config.py && awk "!seen[\\$0]++" config.py > c.tmp && mv c.tmp config.py';
  await node.submit('ticket.create', {
    ticket_id: 'M4', title: 'timeouts', repository: repoA.dir, base_branch: 'main', resolver_command: resolver,
    tasks: [
      task('A', edit('TIMEOUT = 10'), { owns: ['config.py'] }),
      task('B', edit('TIMEOUT = 20'), { owns: ['config.py'] }),
      task('C', 'true', { depends_on: ['A', 'B'] }),
    ],
  });
  await waitTicket(node, 'M4', 'completed');
  const merged = await waitFor('the resolution remembered', async () => (await memoryRows('M4')).find((r) => r.kind === 'merge_resolution'));
  const [attempt] = await sql<any>(node, `select commit from omoi_merge_attempt where ticket_id = 'M4'`);
  t.match(merged, { join_id: 'join-C', files: ['config.py'], resolutions: [{ file: 'config.py', by: 'resolver' }], commit: attempt.commit }, 'which file, resolved by what, the resolved commit');

  await node.submit('ticket.create', {
    ticket_id: 'M5', title: 'more timeouts', repository: repoA.dir, base_branch: 'main',
    tasks: [task('A', KEEP_TASK_FILE, { title: 'raise the timeout', owns: ['config.py', 'notes/**'] })],
  });
  await waitTicket(node, 'M5', 'completed');
  const file = await taskFileOf('M5', 'A');
  t.match(file.context?.memory?.conflicts, [{ file: 'config.py', ticket_id: 'M4', join_id: 'join-C', resolved_by: 'resolver', commit: attempt.commit }], 'how the conflict on its file was resolved');
});

t.test('a conflict a person resolved with their commit is remembered as resolved by person', async (t) => {
  const edit = (text: string) => `printf '%s\\n' ${Array.from({ length: 60 }, (_, i) => (i === 49 ? `'${text}'` : `'line ${i + 1}'`)).join(' ')} > config.py`;
  await node.submit('ticket.create', {
    ticket_id: 'M6', title: 'timeouts by hand', repository: repoA.dir, base_branch: 'main',
    tasks: [
      task('A', edit('TIMEOUT = 11'), { owns: ['config.py'] }),
      task('B', edit('TIMEOUT = 21'), { owns: ['config.py'] }),
      task('C', 'true', { depends_on: ['A', 'B'] }),
    ],
  });
  await waitFor('C blocked by the conflict', async () => (await taskRows(node, 'M6')).C?.status === 'blocked');
  t.same((await memoryRows('M6')).filter((r) => r.kind === 'merge_resolution'), [], 'an unresolved conflict is not a resolution');
  const head = await gitIn(node, 'M6', 'rev-parse', 'omoi-task/M6/A');
  await node.submit('merge.resolve', { ticket_id: 'M6', join_id: 'join-C', commit: head });
  const row = await waitFor('the person\'s resolution remembered', async () => (await memoryRows('M6')).find((r) => r.kind === 'merge_resolution'));
  t.match(row, { join_id: 'join-C', files: ['config.py'], resolutions: [{ file: 'config.py', by: 'person' }], commit: head }, 'the file, resolved by a person, their commit');
});

t.test('a task that failed for good is remembered with its reason', async (t) => {
  await node.submit('ticket.create', {
    ticket_id: 'M7', title: 'broken', repository: repoA.dir, base_branch: 'main',
    tasks: [task('A', 'echo "schema mismatch in the loader" >&2; exit 3', { title: 'migrate the settings loader', max_retries: 0 })],
  });
  const row = await waitFor('the failure remembered', async () => (await memoryRows('M7'))[0]);
  t.match(row, { kind: 'task_failure', task_id: 'A', title: /migrate the settings loader/, body: /task_failed/ }, 'kind and reason');
  const found = await api(`/api/memory/search?q=${encodeURIComponent('settings loader')}&repository=${encodeURIComponent(repoA.dir)}`);
  t.match(found.json.results[0], { kind: 'task_failure', ticket_id: 'M7' }, 'found by its words');
});

t.test('a redelivered event is indexed once; an event that does not decode does not stall the indexer', async (t) => {
  const [row] = await sql<any>(node, `select message_id, payload, time from omoi_event where ticket_id = 'M1' and type = 'task.status' and payload->>'status' = 'completed'`);
  const js = jetstream(await withClient(t, cluster));
  // The same event again (its id), as JetStream redelivers it after a node died before its ack.
  const again = makeEnvelope('task.status', row.payload, { source: 'test', id: row.message_id, time: new Date(row.time) });
  await js.publish(Subjects.event('task.status'), encode(again));
  await js.publish(Subjects.event('task.status'), new TextEncoder().encode('{"not": "an envelope"'));
  const jsm = await jetstreamManager(node.nc);
  await waitFor('every event looked at', async () => {
    const info = await jsm.consumers.info('OMOI_EVT', MEMORY_INDEX_CONSUMER);
    return info.num_pending === 0 && info.num_ack_pending === 0;
  });
  t.equal((await memoryRows('M1')).length, 1, 'still one row for the completion');
});

t.test('search through the API and the CLI; garbage gets a clear 400', async (t) => {
  const found = await api(`/api/memory/search?q=${encodeURIComponent('config parser')}&repository=${encodeURIComponent(repoA.dir)}`);
  t.equal(found.status, 200, JSON.stringify(found.json));
  t.match(found.json.results[0], { kind: 'task_result', ticket_id: 'M1', task_id: 'A', repository: repoA.dir }, 'the best match first');
  t.ok(found.json.results.every((r: any) => r.repository === repoA.dir), 'only that repository');
  const none = await api(`/api/memory/search?q=parser&repository=${encodeURIComponent('/no/such/repo')}`);
  t.same(none.json.results, [], 'an unknown repository has no memory');
  const merges = await api(`/api/memory/search?q=${encodeURIComponent('config.py resolver')}`);
  t.ok(merges.json.results.some((r: any) => r.kind === 'merge_resolution' && r.ticket_id === 'M4'), 'resolutions are searchable by file and by how');
  const operators = await api(`/api/memory/search?q=${encodeURIComponent("parser & | ! :* ( '")}`);
  t.equal(operators.status, 200, 'tsquery operators in the text are words, never a syntax error');

  for (const [query, code] of [
    ['q=%21%21%21', 'empty_query'], ['q=the+and+of', 'empty_query'], ['', 'invalid_query'], ['q=%20', 'invalid_query'],
    ['q=a%01b', 'invalid_query'], ['q=parser&limit=0', 'invalid_query'], ['q=parser&limit=abc', 'invalid_query'],
    ['q=parser&q=config', 'invalid_query'], [`q=${'x'.repeat(501)}`, 'invalid_query'],
  ]) {
    const res = await api(`/api/memory/search?${query}`);
    t.equal(res.status, 400, `${query.slice(0, 40)} → 400`);
    t.equal(res.json.error?.code, code, `${query.slice(0, 40)} → ${code}`);
  }

  const env = { OMOI_API_TOKEN: node.apiToken };
  const table = await runOmoi(['memory', 'search', 'config', 'parser', '--repository', repoA.dir, '--url', node.httpUrl], env);
  t.equal(table.code, 0, table.stderr);
  t.match(table.stdout, /^AT\s+KIND\s+WHERE\s+TITLE\s+EXCERPT/, 'a table with a header');
  t.match(table.stdout, /task_result\s+M1\/A\s+add the parser for config files/, 'the earlier result in it');
  const json = await runOmoi(['memory', 'search', 'timeout', '--json', '--limit', '2', '--url', node.httpUrl], env);
  t.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout);
  t.ok(Array.isArray(parsed) && parsed.length >= 1 && parsed.length <= 2, 'JSON, at most --limit results');
  const empty = await runOmoi(['memory', 'search', '!!!', '--url', node.httpUrl], env);
  t.not(empty.code, 0, 'a query with no word fails');
  t.match(empty.stderr, /empty_query/, 'and says why');
});

t.test('recall never fails an assignment: a database that is gone gives no memory, off gives none', async (t) => {
  const log = pino({ level: 'silent' });
  const db = await openDatabase(cluster.databaseUrl, log);
  const store = new MemoryStore(db);
  const req = { repository: repoA.dir, ticket_id: 'MX', task_id: 'A', title: 'config parser', run: 'true', owns: ['config.py'] };
  t.ok(await new MemoryRecall({ store, log, limit: 3, timeoutMs: 2_000 }).recall(req), 'found while the database is there');
  t.equal(await new MemoryRecall({ store, log, limit: 0, timeoutMs: 2_000 }).recall(req), undefined, 'limit 0: recall off');
  await db.close();
  t.equal(await new MemoryRecall({ store, log, limit: 3, timeoutMs: 2_000 }).recall(req), undefined, 'a failed recall resolves empty, never throws');
});
