// The MergeActor is a nact actor: a supervised child of its JoinActor, spawned when the join has
// every source, kept alive (and keeping its join alive) while it merges, stopped once its result
// is committed; restarted with backoff when it crashes, escalated to a blocked join when it keeps
// crashing. Final merges are MergeActors under a node-level supervisor. Real PostgreSQL, NATS, git.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import t from 'tap';
import { armCrash } from '../../src/failpoints.ts';
import { makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { filesAt, gitIn, sql, task, taskRows, waitTask, waitTicket } from './helpers.ts';

const cluster = await withCluster(t);
// Short passivation (a running merge must keep its join alive) and a small restart budget.
const node = await withNode(t, cluster, { idlePassivateMs: 400, restartMax: 2, restartBackoffMs: 50, restartBackoffMaxMs: 200, restartWindowMs: 60_000 });

const gate = (file: string) => `while [ ! -f ${file} ]; do sleep 0.05; done`;
const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
const edit = (v: string) => `sed -i 's/^line 50$/TIMEOUT = ${v}/' config.py`;
const resolve = `sed -i -e '/^<<<<<<<\\|^=======\\|^>>>>>>>/d' -e 's/^TIMEOUT = .*/TIMEOUT = 30/' config.py && awk '!seen[$0]++' config.py > c.tmp && mv c.tmp config.py`;

/** A → C ← B where A and B conflict on line 50; the resolver (run by the MergeActor) resolves it. */
async function conflicting(id: string, resolver: string, repoDir: string) {
  await node.submit('ticket.create', {
    ticket_id: id, title: 'merge actor', repository: repoDir, base_branch: 'main', resolver_command: resolver,
    tasks: [
      task('A', edit('10'), { owns: ['config.py'] }),
      task('B', edit('20'), { owns: ['config.py'] }),
      task('C', 'grep -q "TIMEOUT = 30" config.py && echo ok > c.txt', { depends_on: ['A', 'B'], owns: ['c.txt'] }),
    ],
  });
}

async function metric(name: 'liveActors' | 'spawns' | 'restarts', labels: Record<string, string>): Promise<number> {
  const { values } = await node.metrics[name].get();
  return values.filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x)).reduce((n, v) => n + v.value, 0);
}
const liveMerges = () => metric('liveActors', { actor: 'MergeActor' });
/** Merge commits in the ticket's clone that no ref reaches: a re-run that made different shas would leave some. */
const strayCommits = async (ticket: string) => (await gitIn(node, ticket, 'fsck', '--unreachable', '--no-reflogs', '--no-progress')).split('\n').filter((l) => l.startsWith('unreachable commit'));

t.test('the JoinActor spawns its MergeActor as a nact child, keeps it (and itself) alive while it merges, and stops it once the merge is recorded', async (t) => {
  const repo = await makeRepo(t, { 'config.py': lines(60) });
  const flags = await tempDir(t, 'omoi-merge-flags-');
  const spawnedBefore = await metric('spawns', { actor: 'MergeActor', parent: 'JoinActor' });
  await conflicting('M1', `touch ${flags}/started; ${gate(`${flags}/go`)}; ${resolve}`, repo.dir);
  await waitFor('merge running', () => existsSync(`${flags}/started`), { timeoutMs: 60_000 });

  t.equal(await metric('spawns', { actor: 'MergeActor', parent: 'JoinActor' }) - spawnedBefore, 1, 'one MergeActor spawned, and its nact parent is a JoinActor');
  t.equal(await liveMerges(), 1, 'the MergeActor is alive while it merges');
  // Many passivation periods (400 ms) pass while the merge runs: the join must not be passivated under it.
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 250));
    t.ok(node.runtime.host('JoinActor').isLive('M1/join-C'), `the JoinActor is still alive after ${(i + 1) * 250} ms of merging`);
  }
  t.equal(await liveMerges(), 1, 'the MergeActor survived its idle join\'s passivation period');
  const [join] = await sql<any>(node, `select status from omoi_join where ticket_id = 'M1'`);
  t.equal(join.status, 'merging');

  await writeFile(`${flags}/go`, '');
  const ticket = await waitTicket(node, 'M1', 'completed');
  const [merged] = await sql<any>(node, `select * from omoi_join where ticket_id = 'M1'`);
  t.equal(merged.status, 'merged');
  await waitFor('MergeActor stopped', async () => (await liveMerges()) === 0, { timeoutMs: 10_000 });
  t.pass('the MergeActor is stopped once its merge is recorded');
  const attempts = await sql<any>(node, `select * from omoi_merge_attempt where ticket_id = 'M1'`);
  t.equal(attempts.length, 1, 'one merge attempt recorded');
  t.equal(await gitIn(node, 'M1', 'merge-base', '--is-ancestor', merged.merge_commit, ticket.head).then(() => true), true, 'the merge commit is in the ticket\'s history');
  t.same(await strayCommits('M1'), [], 'no other merge commit was made');
  await waitFor('join passivated once idle', () => !node.runtime.host('JoinActor').isLive('M1/join-C'), { timeoutMs: 10_000 });
  t.pass('the idle JoinActor passivates once its MergeActor is gone');
});

t.test('a MergeActor that died with its JoinActor is re-driven: the node supervisor wakes the join, which spawns it again', async (t) => {
  const repo = await makeRepo(t, { 'config.py': lines(60) });
  const flags = await tempDir(t, 'omoi-merge-flags-');
  const spawnedBefore = await metric('spawns', { actor: 'MergeActor', parent: 'JoinActor' });
  await conflicting('M5', `echo run >> ${flags}/runs; ${gate(`${flags}/go`)}; ${resolve}`, repo.dir);
  await waitFor('merge running', () => existsSync(`${flags}/runs`), { timeoutMs: 60_000 });
  // What a crash of the JoinActor (or its escalation) does: the actor stops, and its children with it.
  node.runtime.host('JoinActor').stopAll();
  await waitFor('MergeActor gone with its join', async () => (await liveMerges()) === 0, { timeoutMs: 10_000 });
  await waitFor('MergeActor spawned again', async () => (await metric('spawns', { actor: 'MergeActor', parent: 'JoinActor' })) - spawnedBefore === 2, { timeoutMs: 30_000 });
  await writeFile(`${flags}/go`, '');
  const ticket = await waitTicket(node, 'M5', 'completed');
  const [join] = await sql<any>(node, `select * from omoi_join where ticket_id = 'M5'`);
  t.equal(join.status, 'merged');
  t.equal(join.attempts, 1, 'the same attempt ran again');
  t.equal((await sql<any>(node, `select * from omoi_merge_attempt where ticket_id = 'M5'`)).length, 1, 'one merge attempt recorded');
  t.same(await strayCommits('M5'), [], 'no second merge commit');
  t.equal(await gitIn(node, 'M5', 'merge-base', '--is-ancestor', join.merge_commit, ticket.head).then(() => true), true);
});

t.test('a MergeActor that crashes is restarted under supervision and the join still merges exactly once', async (t) => {
  const repo = await makeRepo(t, { 'config.py': lines(60) });
  const restartedBefore = await metric('restarts', { actor: 'MergeActor', action: 'restarted' });
  // Crashes after the merge commit exists and before its report: twice (within restartMax = 2).
  const disarm = armCrash('merge.before_report', 2);
  t.teardown(disarm);
  await conflicting('M2', resolve, repo.dir);
  const ticket = await waitTicket(node, 'M2', 'completed');
  t.equal(await metric('restarts', { actor: 'MergeActor', action: 'restarted' }) - restartedBefore, 2, 'restarted twice, after backoff');
  const [join] = await sql<any>(node, `select * from omoi_join where ticket_id = 'M2'`);
  t.equal(join.status, 'merged');
  t.equal(join.attempts, 1, 'one attempt: a restart runs the same attempt again');
  const attempts = await sql<any>(node, `select * from omoi_merge_attempt where ticket_id = 'M2'`);
  t.equal(attempts.length, 1, 'one merge attempt recorded');
  t.equal(attempts[0].commit, join.merge_commit);
  t.same(await strayCommits('M2'), [], 'no second merge commit: each re-run reproduced the same shas');
  t.equal(await gitIn(node, 'M2', 'merge-base', '--is-ancestor', join.merge_commit, ticket.head).then(() => true), true, 'the merge commit is in the ticket\'s history');
  const tasks = await taskRows(node, 'M2');
  t.equal(tasks.C.base_commit, join.merge_commit, 'the continuation ran on it');
  t.match(await gitIn(node, 'M2', 'show', `${join.merge_commit}:config.py`), /TIMEOUT = 30/);
  await waitFor('MergeActor stopped', async () => (await liveMerges()) === 0, { timeoutMs: 10_000 });
});

t.test('a MergeActor that keeps crashing escalates: the attempt is reported failed and the join ends blocked with a reason', async (t) => {
  const repo = await makeRepo(t, { 'config.py': lines(60) });
  const escalatedBefore = await metric('restarts', { actor: 'MergeActor', action: 'escalated' });
  const disarm = armCrash('merge.start', Infinity);
  t.teardown(disarm);
  await conflicting('M3', resolve, repo.dir);
  const c = await waitTask(node, 'M3', 'C', 'blocked');
  disarm();
  t.equal(await metric('restarts', { actor: 'MergeActor', action: 'escalated' }) - escalatedBefore, 1, 'escalated once');
  const [join] = await sql<any>(node, `select * from omoi_join where ticket_id = 'M3'`);
  t.equal(join.status, 'blocked');
  t.equal(join.blocked_by, 'merge_error', 'blocked by its merge, as data');
  t.match(join.reason, /^merge_error: escalated after 2 restarts: failpoint merge.start crashed/, 'the reason names the escalation and the error');
  t.equal(c.reason, join.reason, 'the continuation is blocked with that reason');
  const [attempt] = await sql<any>(node, `select * from omoi_merge_attempt where ticket_id = 'M3'`);
  t.equal(attempt.ok, false, 'the failed attempt is recorded');
  await waitFor('MergeActor stopped', async () => (await liveMerges()) === 0, { timeoutMs: 10_000 });

  // A person may still supply a resolution for a join blocked by its merge.
  const head = await gitIn(node, 'M3', 'rev-parse', 'omoi-task/M3/A');
  await node.submit('merge.resolve', { ticket_id: 'M3', join_id: 'join-C', commit: head });
  const resolved = await waitFor('join resolved', async () => (await sql<any>(node, `select * from omoi_join where ticket_id = 'M3' and status = 'merged'`))[0]);
  t.equal(resolved.merge_commit, head, 'the resolution was accepted');
  t.equal(resolved.blocked_by, null);
});

t.test('a ticket\'s final merge of several sinks is a MergeActor under the node-level supervisor', async (t) => {
  const repo = await makeRepo(t, { 'README.md': 'hi\n' });
  const before = await metric('spawns', { actor: 'MergeActor', parent: 'node' });
  await node.submit('ticket.create', {
    ticket_id: 'M4', title: 'two sinks', repository: repo.dir, base_branch: 'main',
    tasks: [task('A', 'echo a > a.txt', { owns: ['a.txt'] }), task('B', 'echo b > b.txt', { owns: ['b.txt'] })],
  });
  const ticket = await waitTicket(node, 'M4', 'completed');
  t.equal(await metric('spawns', { actor: 'MergeActor', parent: 'node' }) - before, 1, 'one final MergeActor spawned');
  t.same(await filesAt(node, 'M4', ticket.head), ['README.md', 'a.txt', 'b.txt'], 'the final head merges both sinks');
  await waitFor('final MergeActor stopped', async () => (await liveMerges()) === 0, { timeoutMs: 10_000 });
  t.pass('it stopped itself once it reported');
});
