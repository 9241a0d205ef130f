// A merge attempt through the API (a real node, NATS, PostgreSQL, git): a conflicting join
// reports the order its sources went in, each source's outcome, the files left unresolved with
// their conflict hunks (bounded), and the resolver's command, exit code and output.
import t from 'tap';
import { makeRepo } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { gitIn, task, waitTask, waitTicket } from '../flow/helpers.ts';

const TOKEN = 'test-token';
const lines = (n: number, prefix = 'line') => Array.from({ length: n }, (_, i) => `${prefix} ${i + 1}`).join('\n') + '\n';
/** A and B set the same line of config.py, and rewrite all of big.txt differently. */
const edit = (v: string) => `sed -i 's/^line 5$/TIMEOUT = ${v}/' config.py && sed -i 's/^big/${v}-big/' big.txt`;

async function get(base: string, p: string): Promise<{ status: number; json: any }> {
  const res = await fetch(new URL(p, base), { headers: { authorization: `Bearer ${TOKEN}` } });
  return { status: res.status, json: await res.json() };
}

const cluster = await withCluster(t);
const node = await withNode(t, cluster);

t.test('a conflicting merge: order, outcomes, hunks (bounded), resolver exit code and output', async (t) => {
  const repo = await makeRepo(t, { 'config.py': lines(10), 'big.txt': lines(2000, 'big') });
  await node.submit('ticket.create', {
    ticket_id: 'T-merge', title: 'conflict', repository: repo.dir, base_branch: 'main',
    resolver_command: 'echo "resolving $OMOI_CONFLICTED_FILES"; exit 3',
    tasks: [task('A', edit('10'), { owns: ['config.py', 'big.txt'] }), task('B', edit('20'), { owns: ['config.py', 'big.txt'] }), task('C', 'true', { depends_on: ['A', 'B'], owns: [] })],
  });
  await waitTask(node, 'T-merge', 'C', 'blocked');
  const res = await get(node.httpUrl, '/api/tickets/T-merge/joins/join-C/merges/1');
  t.equal(res.status, 200);
  const m = res.json;
  const [a, b] = [await gitIn(node, 'T-merge', 'rev-parse', 'omoi-task/T-merge/A'), await gitIn(node, 'T-merge', 'rev-parse', 'omoi-task/T-merge/B')];
  t.match(m, { ticket_id: 'T-merge', join_id: 'join-C', attempt: 1, ok: false, commit: null, join: { status: 'blocked', continuation: 'C', sources: ['A', 'B'] } });
  t.same(m.order, ['A', 'B'], 'A first (no conflicts on the base), then B');
  t.same(m.sources, [
    { id: 'A', position: 1, outcome: 'merged', conflicts: [], commit: a.trim() },
    { id: 'B', position: 2, outcome: 'conflicted', conflicts: ['big.txt', 'config.py'], commit: b.trim() },
  ], 'each source: where it went, how it fared, its commit');
  t.same(m.files.map((f: any) => f.path), ['big.txt', 'config.py']);
  const hunk = (p: string) => m.files.find((f: any) => f.path === p).hunks as string;
  t.equal(hunk('config.py'), ['line 3', 'line 4', '<<<<<<< merge-head', 'TIMEOUT = 10', '=======', 'TIMEOUT = 20', '>>>>>>> B', 'line 6', 'line 7'].join('\n'), 'the conflict region with two lines of context');
  t.match(hunk('big.txt'), /^<<<<<<< merge-head\n10-big 1\n10-big 2\n/, 'the big conflict starts as written');
  t.match(hunk('big.txt'), /\n\.\.\. \(cut at 8192 bytes\)$/, 'and is cut, saying so');
  t.ok(Buffer.byteLength(hunk('big.txt')) < 8192 + 64, 'at most 8 KiB per file');
  t.match(m.resolver, { command: 'echo "resolving $OMOI_CONFLICTED_FILES"; exit 3', check_command: null, exit_code: 3, output: /resolving big\.txt\nconfig\.py[\s\S]*resolver exited with 3/ });

  t.match(await get(node.httpUrl, '/api/tickets/T-merge/joins/join-C/merges/2'), { status: 404, json: { error: { code: 'not_found' } } });
  t.match(await get(node.httpUrl, '/api/tickets/T-merge/joins/nope/merges/1'), { status: 404, json: { error: { code: 'not_found' } } });
  t.match(await get(node.httpUrl, '/api/tickets/T-merge/joins/join-C/merges/x'), { status: 400, json: { error: { code: 'invalid_path' } } });

  // Resolved by a person (B's side): the continuation runs, the ticket completes; attempt 1 stays as it was.
  await node.submit('merge.resolve', { ticket_id: 'T-merge', join_id: 'join-C', commit: b.trim() });
  await waitTicket(node, 'T-merge', 'completed');
  const after = await get(node.httpUrl, '/api/tickets/T-merge/joins/join-C/merges/1');
  t.match(after.json, { ok: false, join: { status: 'merged', merge_commit: b.trim() } });
});
