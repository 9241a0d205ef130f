import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { makeRepo, tempDir } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { events, filesAt, sql, task, taskRows, waitTask, waitTicket } from './helpers.ts';

const cluster = await withCluster(t);
const node = await withNode(t, cluster);
const gate = (dir: string, name: string) => `while [ ! -f ${dir}/${name} ]; do sleep 0.05; done`;

t.test('scenario 5: a running task splits; the new tasks run in parallel and a join is registered', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const flags = await tempDir(t, 'flags-');
  const meet = (me: string, other: string) => `touch ${flags}/${me} && ${gate(flags, other)}`;
  await node.submit('ticket.create', {
    ticket_id: 'T5', title: 'split', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', `${gate(flags, 'go')} && echo a > a.txt`, { owns: ['a.txt'] }),
      task('Z', 'test -f b.txt && test -f c.txt && echo z > z.txt', { depends_on: ['A'], owns: ['z.txt'] }),
    ],
  });
  await waitTask(node, 'T5', 'A', 'running');
  await node.submit('task.split', {
    ticket_id: 'T5', task_id: 'A',
    tasks: [task('B', `${meet('B', 'C')} && echo b > b.txt`, { owns: ['b.txt'] }), task('C', `${meet('C', 'B')} && echo c > c.txt`, { owns: ['c.txt'] })],
    continuation: task('D', 'test -f b.txt && test -f c.txt && echo d > d.txt', { owns: ['d.txt'] }),
  });
  await node.idle();
  await writeFile(path.join(flags, 'go'), '');
  const ticket = await waitTicket(node, 'T5', 'completed');
  const [join] = await sql<any>(node, `select * from omoi_join where ticket_id = 'T5'`);
  t.equal(join.id, 'join-D', 'the join was registered automatically');
  t.same(join.sources, ['B', 'C']);
  t.equal(join.status, 'merged');
  const tasks = await taskRows(node, 'T5');
  t.same(tasks.Z.depends_on, ['D'], "A's dependent now depends on the continuation");
  t.equal(tasks.D.base_commit, join.merge_commit, 'the continuation ran on the merge');
  t.same(await filesAt(node, 'T5', ticket.head), ['README.md', 'a.txt', 'b.txt', 'c.txt', 'd.txt', 'z.txt']);
});

t.test('scenario 6 and 8: a multi-dependency task added directly; a join on already-completed sources fires at once', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const flags = await tempDir(t, 'flags-');
  await node.submit('ticket.create', {
    ticket_id: 'T6', title: 'add', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', 'echo a > a.txt && echo \'{"a":true}\' > "$OMOI_RESULT_FILE"', { owns: ['a.txt'] }),
      task('B', 'echo b > b.txt && echo \'{"b":true}\' > "$OMOI_RESULT_FILE"', { owns: ['b.txt'] }),
      task('G', `${gate(flags, 'go')} && echo g > g.txt`, { owns: ['g.txt'] }),
    ],
  });
  await waitTask(node, 'T6', 'A', 'completed');
  await waitTask(node, 'T6', 'B', 'completed');
  // 8: both sources are already completed when the join is registered.
  await node.submit('task.add', { ticket_id: 'T6', task: task('E', 'test -f a.txt && test -f b.txt && echo e > e.txt', { depends_on: ['A', 'B'], owns: ['e.txt'] }) });
  const e = await waitTask(node, 'T6', 'E', 'completed');
  const joinEvents = (await events(node, 'T6', 'join.status')).map((x) => x.payload.status);
  t.same(joinEvents, ['merging', 'merged'], 'registered with every source in: straight to merging, then merged');
  const [join] = await sql<any>(node, `select * from omoi_join where ticket_id = 'T6'`);
  t.equal(join.id, 'join-E', '6: a join registered for a task added directly');
  t.equal(e.base_commit, join.merge_commit);
  t.same(e.context.merged, { A: { a: true }, B: { b: true } });
  t.same(await filesAt(node, 'T6', e.commit), ['README.md', 'a.txt', 'b.txt', 'e.txt']);
  await writeFile(path.join(flags, 'go'), '');
  const ticket = await waitTicket(node, 'T6', 'completed');
  t.same(await filesAt(node, 'T6', ticket.head), ['README.md', 'a.txt', 'b.txt', 'e.txt', 'g.txt'], 'several sinks are merged into the final head');
});

t.test('scenario 7: a source failing for good blocks the continuation with source_failed', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T7', title: 'failed source', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', 'echo a > a.txt', { owns: ['a.txt'] }),
      task('B', 'echo broken >&2; exit 3', { max_retries: 1 }),
      task('D', 'echo d > d.txt', { depends_on: ['A', 'B'] }),
    ],
  });
  const ticket = await waitTicket(node, 'T7', 'failed');
  t.equal(ticket.reason, 'task_failed:B');
  const tasks = await taskRows(node, 'T7');
  t.equal(tasks.B.status, 'failed');
  t.equal(tasks.B.attempt, 2, 'retried up to max_retries first');
  t.equal(tasks.D.status, 'blocked');
  t.equal(tasks.D.reason, 'source_failed:B');
  const blocked = (await events(node, 'T7', 'task.status')).filter((e) => e.payload.task_id === 'D' && e.payload.status === 'blocked');
  t.equal(blocked.length, 1, 'an event is published');
  t.equal(blocked[0]!.payload.reason, 'source_failed:B');
  const [join] = await sql<any>(node, `select * from omoi_join where ticket_id = 'T7'`);
  t.same([join.status, join.reason], ['blocked', 'source_failed:B'], 'the join ends blocked, not waiting');
  t.equal((await events(node, 'T7', 'ticket.ended'))[0]?.payload.reason, 'task_failed:B');
});

t.test('scenario 9: sources with 2, 0 and 1 conflicting files are merged in order 0, 1, 2', async (t) => {
  const repo = await makeRepo(t, { 'x.txt': 'base\n', 'y.txt': 'base\n', 'z.txt': 'base\n' });
  const takeTheirs = 'printf "%s\\n" "$OMOI_CONFLICTED_FILES" | while read f; do git show "$OMOI_MERGE_SOURCE_COMMIT:$f" > "$f"; done';
  await node.submit('ticket.create', {
    ticket_id: 'T9', title: 'order', repository: repo.dir, base_branch: 'main', resolver_command: takeTheirs, ownership: 'lenient',
    tasks: [
      // Merged first (all score 0 against the base; lowest id), it moves x, y and z under the others.
      task('0moves', 'echo moved > x.txt && echo moved > y.txt && echo moved > z.txt'),
      task('two', 'echo two > x.txt && echo two > y.txt'),
      task('zero', 'echo zero > w.txt'),
      task('one', 'echo one > z.txt'),
      task('J', 'cat x.txt y.txt z.txt w.txt > j.txt', { depends_on: ['0moves', 'two', 'zero', 'one'] }),
    ],
  });
  await waitTicket(node, 'T9', 'completed');
  const [attempt] = await sql<any>(node, `select * from omoi_merge_attempt where ticket_id = 'T9'`);
  t.same(attempt.merge_order, ['0moves', 'zero', 'one', 'two'], 'fewest conflicts first');
  t.same(attempt.conflicts, { '0moves': [], zero: [], one: ['z.txt'], two: ['x.txt', 'y.txt'] });
});
