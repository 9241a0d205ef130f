import { readFile } from 'node:fs/promises';
import t from 'tap';
import { makeRepo, tempDir } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { events, filesAt, gitIn, task, taskRows, waitTicket } from './helpers.ts';

t.test('scenario 1: A → (B ∥ C) → D with real merges and merged context', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const rendezvous = await tempDir(t, 'rendezvous-');
  // B and C each wait until the other has started: the ticket completes only if they run concurrently.
  const meet = (me: string, other: string) => `touch ${rendezvous}/${me} && while [ ! -f ${rendezvous}/${other} ]; do sleep 0.05; done`;
  await node.submit('ticket.create', {
    ticket_id: 'T1', title: 'two-way parallel', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', 'mkdir -p setup && echo a > setup/a.txt', { owns: ['setup/**'] }),
      task('B', `${meet('B', 'C')} && mkdir -p src/x && echo x > src/x/a.txt && echo '{"feature":"X"}' > "$OMOI_RESULT_FILE"`, { depends_on: ['A'], owns: ['src/x/**'] }),
      task('C', `${meet('C', 'B')} && mkdir -p src/y && echo y > src/y/a.txt && echo '{"feature":"Y"}' > "$OMOI_RESULT_FILE"`, { depends_on: ['A'], owns: ['src/y/**'] }),
      task('D', 'test -f setup/a.txt && test -f src/x/a.txt && test -f src/y/a.txt && mkdir -p src/d && cp "$OMOI_TASK_FILE" src/d/task.json', { depends_on: ['B', 'C'], owns: ['src/d/**'] }),
    ],
  });
  const ticket = await waitTicket(node, 'T1', 'completed');
  const tasks = await taskRows(node, 'T1');
  t.same(Object.values(tasks).map((r) => r.status), ['completed', 'completed', 'completed', 'completed']);

  // D's context: B's and C's results with their task ids.
  t.same(tasks.D.context.merged, { B: { feature: 'X' }, C: { feature: 'Y' } }, 'context holds both results by task id');
  t.same(tasks.D.context.sources.map((s: any) => s.task_id), ['B', 'C']);
  const written = JSON.parse(await gitIn(node, 'T1', 'show', `${tasks.D.commit}:src/d/task.json`));
  t.same(written.context.merged, { B: { feature: 'X' }, C: { feature: 'Y' } }, 'the task file D saw carried the merged context');

  // D ran on the join's merge commit: real merge commits for both (clean) sources.
  const [join] = await (await import('./helpers.ts')).sql<any>(node, `select * from omoi_join where ticket_id = 'T1'`);
  t.equal(join.status, 'merged');
  t.equal(tasks.D.base_commit, join.merge_commit, 'D is based on the merge commit');
  const merges = (await gitIn(node, 'T1', 'rev-list', '--merges', join.merge_commit)).split('\n').filter(Boolean);
  t.equal(merges.length, 2, 'one real merge commit per source, also for clean branches');
  for (const m of merges) {
    const parents = (await gitIn(node, 'T1', 'rev-list', '--parents', '-n', '1', m)).split(' ');
    t.equal(parents.length, 3, `${m.slice(0, 8)} has two parents`);
  }
  t.ok((await gitIn(node, 'T1', 'merge-base', '--is-ancestor', tasks.B.commit, join.merge_commit).then(() => true)), 'B is merged');
  t.ok((await gitIn(node, 'T1', 'merge-base', '--is-ancestor', tasks.C.commit, join.merge_commit).then(() => true)), 'C is merged');
  t.same(await filesAt(node, 'T1', tasks.D.commit), ['README.md', 'setup/a.txt', 'src/d/task.json', 'src/x/a.txt', 'src/y/a.txt'], "D's tree holds A's, B's, C's and its own changes");

  // The ticket branch points at the final head.
  t.equal(ticket.head, tasks.D.commit);
  t.equal(await gitIn(node, 'T1', 'rev-parse', 'omoi/T1'), tasks.D.commit, 'branch omoi/T1 at the final head');
  t.equal(await gitIn(node, 'T1', 'rev-parse', 'omoi-task/T1/D'), tasks.D.commit, 'each task has its own branch');

  // D started only after both B and C completed.
  const statuses = (await events(node, 'T1', 'task.status')).map((e) => `${e.payload.task_id}:${e.payload.status}`);
  t.ok(statuses.indexOf('D:ready') > statuses.indexOf('B:completed') && statuses.indexOf('D:ready') > statuses.indexOf('C:completed'), 'D became ready after B and C completed');
  const completed = await events(node, 'T1', 'ticket.completed');
  t.equal(completed.length, 1);
  t.equal(completed[0]!.payload.head, tasks.D.commit);
  void readFile;
});
