import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { git, makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { events, filesAt, gitIn, sql, task, taskRows, waitTask, waitTicket } from './helpers.ts';
import { encode, makeEnvelope, partitionOf, Subjects } from '../../src/protocol/index.ts';

const cluster = await withCluster(t);
const node = await withNode(t, cluster);
const lines = (n: number, edits: Record<number, string> = {}) => Array.from({ length: n }, (_, i) => edits[i + 1] ?? `line ${i + 1}`).join('\n') + '\n';

t.test('scenario 2: tasks owning the same files run one after the other', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T2', title: 'file conflict prevention', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', 'mkdir -p src/auth && echo a > src/auth/a.txt', { owns: ['src/auth/**'] }),
      task('B', 'mkdir -p src/auth && echo b > src/auth/b.txt && test ! -f src/auth/a.txt', { owns: ['src/auth/**'] }),
    ],
  });
  const ticket = await waitTicket(node, 'T2', 'completed');
  const tasks = await taskRows(node, 'T2');
  const status = (await events(node, 'T2', 'task.status')).map((e) => `${e.payload.task_id}:${e.payload.status}`);
  t.ok(status.indexOf('B:waiting_for_files') >= 0, 'B waited for files');
  t.ok(status.indexOf('B:ready') > status.indexOf('A:completed'), 'B became ready only after A completed');
  const waiting = (await events(node, 'T2', 'ownership.status')).filter((e) => e.payload.status === 'waiting');
  t.same(waiting.map((e) => [e.payload.task_id, e.payload.blocked_by]), [['B', ['A']]], 'the wait names its holder');
  t.equal(tasks.B.base_commit, (await gitIn(node, 'T2', 'rev-parse', 'main')), 'B ran on its own branch from the ticket base');
  t.equal(await gitIn(node, 'T2', 'rev-parse', 'omoi-task/T2/B'), tasks.B.commit);
  t.same(await filesAt(node, 'T2', ticket.head), ['README.md', 'src/auth/a.txt', 'src/auth/b.txt'], 'the final head merges both without conflict');
  t.same(await sql(node, `select count(*)::int as n from omoi_file_claim where ticket_id = 'T2'`), [{ n: 0 }], 'every claim released');
});

t.test('a task that owns nothing claims nothing: no claim row, no ownership event, never waits', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T-free', title: 'no claims', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', 'mkdir -p src && echo a > src/a.txt', { owns: ['src/**'] }),
      task('B', 'test -f README.md'), // owns (and changes) nothing: runs beside A whatever A holds
    ],
  });
  await waitTicket(node, 'T-free', 'completed');
  const claims = (await events(node, 'T-free', 'ownership.status')).map((e) => `${e.payload.task_id}:${e.payload.status}`);
  t.same(claims, ['A:granted', 'A:released'], 'only the task with globs claimed and released');
  const status = (await events(node, 'T-free', 'task.status')).map((e) => `${e.payload.task_id}:${e.payload.status}`);
  t.notOk(status.includes('B:waiting_for_files'), 'B never waited');
});

t.test('scenario 3: merge conflict on line 50 of config.py', async (t) => {
  const repo = await makeRepo(t, { 'config.py': lines(60) });
  const edit = (text: string) => `printf '%s\\n' ${Array.from({ length: 60 }, (_, i) => (i === 49 ? `'${text}'` : `'line ${i + 1}'`)).join(' ')} > config.py`;
  const spec = (id: string, more: Record<string, unknown> = {}) => ({
    ticket_id: id, title: 'merge conflict', repository: repo.dir, base_branch: 'main', ...more,
    tasks: [
      task('A', edit('TIMEOUT = 10'), { owns: ['config.py'] }),
      task('B', edit('TIMEOUT = 20'), { owns: ['config.py'] }),
      task('C', 'grep -q "TIMEOUT = 30" config.py && echo ok > c.txt', { depends_on: ['A', 'B'], owns: ['c.txt'] }),
    ],
  });

  t.test('a configured resolver resolves it in the merge sandbox', async (t) => {
    const resolver = 'echo "resolving $OMOI_CONFLICTED_FILES in $(pwd)"; sed -i -e "/^<<<<<<<\\|^=======\\|^>>>>>>>/d" -e "s/^TIMEOUT = .*/TIMEOUT = 30/" config.py && awk "!seen[\\$0]++" config.py > c.tmp && mv c.tmp config.py';
    await node.submit('ticket.create', spec('T3a', { resolver_command: resolver }));
    await waitTicket(node, 'T3a', 'completed');
    const tasks = await taskRows(node, 'T3a');
    const [attempt] = await sql<any>(node, `select * from omoi_merge_attempt where ticket_id = 'T3a'`);
    t.ok(attempt.ok, 'the attempt succeeded');
    t.same(attempt.merge_order, ['A', 'B'], 'order recorded');
    t.same(attempt.conflicts, { A: [], B: ['config.py'] }, 'conflicts per source recorded');
    t.match(attempt.resolver_output, /resolving config.py in .*sandboxes\/merge-T3a-join-C-1/, 'resolver ran in the merge sandbox; its output recorded');
    t.same(attempt.resolutions, [{ file: 'config.py', source: 'B', by: 'resolver' }]);
    t.match(await gitIn(node, 'T3a', 'show', `${tasks.C.base_commit}:config.py`), /TIMEOUT = 30/, 'C ran on the resolved tree');
    const attempted = await events(node, 'T3a', 'merge.attempted');
    t.equal(attempted.length, 1);
  });

  t.test('a resolver, but the ticket lets none be resolved unattended: too_many_conflicts, files listed, the resolver never runs', async (t) => {
    const resolver = 'echo resolver-ran; exit 1';
    await node.submit('ticket.create', spec('T3c', { resolver_command: resolver, max_conflicts_auto_resolve: 0 }));
    const c = await waitTask(node, 'T3c', 'C', 'blocked');
    t.equal(c.reason, 'too_many_conflicts', 'the continuation says why');
    const [join] = await sql<any>(node, `select * from omoi_join where ticket_id = 'T3c'`);
    t.match(join, { status: 'blocked', reason: 'too_many_conflicts', blocked_by: 'merge_conflict', files: ['config.py'] }, 'blocked for a person, the files listed');
    const [attempt] = await sql<any>(node, `select * from omoi_merge_attempt where ticket_id = 'T3c'`);
    t.notMatch(attempt.resolver_output ?? '', /resolver-ran/, 'the resolver never ran');
    const blocked = (await events(node, 'T3c', 'join.status')).find((e) => e.payload.status === 'blocked');
    t.match(blocked?.payload, { reason: 'too_many_conflicts', files: ['config.py'] });
    // Blocked by its merge's conflicts: a person's resolution resumes it, as for any conflict.
    const head = await gitIn(node, 'T3c', 'rev-parse', 'omoi-task/T3c/A');
    await node.submit('merge.resolve', { ticket_id: 'T3c', join_id: 'join-C', commit: head });
    const resumed = await waitFor('the join merged', async () => (await sql<any>(node, `select status, merge_commit from omoi_join where ticket_id = 'T3c' and status = 'merged'`))[0]);
    t.same(resumed, { status: 'merged', merge_commit: head }, 'the supplied commit resumes it');
    const [row] = await sql<any>(node, `select max_conflicts_auto_resolve from omoi_ticket where id = 'T3c'`);
    t.equal(row.max_conflicts_auto_resolve, 0, 'the ticket keeps its limit');
    const [defaulted] = await sql<any>(node, `select max_conflicts_auto_resolve from omoi_ticket where id = 'T3a'`);
    t.equal(defaulted.max_conflicts_auto_resolve, 20, 'a ticket without one gets OMOI_MAX_CONFLICTS_AUTO_RESOLVE (20)');
  });

  t.test('no resolver: C is blocked with merge_conflict; a resolution resumes it', async (t) => {
    await node.submit('ticket.create', spec('T3b'));
    const c = await waitTask(node, 'T3b', 'C', 'blocked');
    t.equal(c.reason, 'merge_conflict');
    const [join] = await sql<any>(node, `select * from omoi_join where ticket_id = 'T3b'`);
    t.equal(join.status, 'blocked');
    t.equal(join.blocked_by, 'merge_conflict', 'blocked by its merge\'s conflict, as data (merge.finished failure: conflict)');
    t.same(join.files, ['config.py'], 'the files are listed');
    t.equal(join.merge_commit, null);
    const blocked = (await events(node, 'T3b', 'task.status')).find((e) => e.payload.task_id === 'C' && e.payload.status === 'blocked');
    t.same(blocked?.payload.files, ['config.py'], 'the blocked event names the files');
    const [attempt] = await sql<any>(node, `select * from omoi_merge_attempt where ticket_id = 'T3b'`);
    t.equal(attempt.ok, false);
    t.same(attempt.files, ['config.py']);

    // A person resolves in the repository and supplies the commit.
    const work = await tempDir(t, 'resolve-');
    await git(work, 'clone', '--quiet', repo.dir, '.');
    await git(work, 'config', 'user.name', 'Person');
    await git(work, 'config', 'user.email', 'p@example.com');
    await writeFile(path.join(work, 'config.py'), lines(60, { 50: 'TIMEOUT = 30' }));
    await git(work, 'commit', '--quiet', '-am', 'resolution');
    await git(work, 'push', '--quiet', 'origin', 'HEAD:refs/heads/resolution');
    const resolution = await git(work, 'rev-parse', 'HEAD');
    await node.submit('merge.resolve', { ticket_id: 'T3b', join_id: 'join-C', commit: resolution });
    await waitTicket(node, 'T3b', 'completed');
    const tasks = await taskRows(node, 'T3b');
    t.equal(tasks.C.base_commit, resolution, 'C resumed on the supplied resolution');
    const [resolved] = await sql<any>(node, `select * from omoi_join where ticket_id = 'T3b'`);
    t.equal(resolved.merge_commit, resolution);
  });
});

t.test('scenario 4: diamond; a duplicate completion changes nothing', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  await node.submit('ticket.create', {
    ticket_id: 'T4', title: 'diamond', repository: repo.dir, base_branch: 'main',
    tasks: [
      task('A', 'echo a > a.txt', { owns: ['a.txt'] }),
      task('B', 'echo b > b.txt && echo \'{"b":1}\' > "$OMOI_RESULT_FILE"', { depends_on: ['A'], owns: ['b.txt'] }),
      task('C', 'echo c > c.txt && echo \'{"c":1}\' > "$OMOI_RESULT_FILE"', { depends_on: ['A'], owns: ['c.txt'] }),
      task('D', 'test -f b.txt && test -f c.txt && echo d > d.txt', { depends_on: ['B', 'C'], owns: ['d.txt'] }),
    ],
  });
  await waitTicket(node, 'T4', 'completed');
  const before = await taskRows(node, 'T4');
  t.same(before.D.context.merged, { B: { b: 1 }, C: { c: 1 } }, 'merged context');
  t.same(await filesAt(node, 'T4', before.D.commit), ['README.md', 'a.txt', 'b.txt', 'c.txt', 'd.txt'], 'merged code');
  const joinBefore = await sql<any>(node, `select * from omoi_join where ticket_id = 'T4'`);

  // The same TASK_COMPLETED for B delivered twice: once more under its id (a redelivery), once
  // as a new message reporting the same attempt (a duplicate report).
  const [{ payload }] = await sql<any>(node, `select payload from omoi_event where ticket_id = 'T4' and type = 'task.status' and entity = 'B' and payload->>'status' = 'completed'`);
  const complete = { ticket_id: 'T4', task_id: 'B', attempt: 1, commit: payload.commit, result: { b: 1 } };
  const subject = Subjects.partition(partitionOf('ticket', 'T4', node.config.partitions), 'task.complete');
  await node.js.publish(subject, encode(makeEnvelope('task.complete', complete, { source: 'test', id: 'task-result:T4:B:1' })), { msgID: 'again-1' });
  await node.submit('task.complete', { ...complete, result: { b: 2 } });
  await node.idle();
  await new Promise((r) => setTimeout(r, 500));
  await node.idle();
  t.same(await taskRows(node, 'T4'), before, 'no task row changed');
  t.same(await sql<any>(node, `select * from omoi_join where ticket_id = 'T4'`), joinBefore, 'the join is unchanged');
  t.same(await sql(node, `select count(*)::int as n from omoi_merge_attempt where ticket_id = 'T4'`), [{ n: 1 }], 'one merge');
  t.same(await sql(node, `select count(*)::int as n from omoi_dead_letter`), [{ n: 0 }], 'duplicates are not errors');
});
