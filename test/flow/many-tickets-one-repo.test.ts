import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import t from 'tap';
import { sharedCloneDir } from '../../src/git/index.ts';
import { repoLock } from '../../src/git/keyed-lock.ts';
import { partitionOf } from '../../src/protocol/index.ts';
import { git, makeRepo, tempDir, waitFor } from '../harness/index.ts';
import { withCluster, withNode } from '../harness/node.ts';
import { cloneOf, gitIn, sql, task, taskRows, ticketRow, waitTicket } from './helpers.ts';

/** A → (B ∥ C) → D, each task writing its own file; B of every ticket waits for `meetWith`'s B. */
function diamond(ticket: string, repository: string, rendezvous: string, meetWith?: string): Record<string, unknown> {
  const meet = meetWith ? `touch ${rendezvous}/${ticket} && while [ ! -f ${rendezvous}/${meetWith} ]; do sleep 0.05; done && ` : '';
  return {
    ticket_id: ticket, title: `diamond ${ticket}`, repository, base_branch: 'main',
    tasks: [
      task('A', `mkdir -p a && echo ${ticket} > a/${ticket}.txt`, { owns: ['a/**'] }),
      task('B', `${meet}mkdir -p b && echo ${ticket} > b/${ticket}.txt`, { depends_on: ['A'], owns: ['b/**'] }),
      task('C', `mkdir -p c && echo ${ticket} > c/${ticket}.txt`, { depends_on: ['A'], owns: ['c/**'] }),
      task('D', `test -f b/${ticket}.txt && test -f c/${ticket}.txt && mkdir -p d && echo ${ticket} > d/${ticket}.txt`, { depends_on: ['B', 'C'], owns: ['d/**'] }),
    ],
  };
}

t.test('two tickets on one repository run at once on one shared clone; a later ticket fetches without moving their bases', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster, { localAgentCapacity: 4 });
  const repo = await makeRepo(t, { 'README.md': 'hello\n' });
  const rendezvous = await tempDir(t, 'rendezvous-');
  // B of T1 and B of T2 wait for each other: both tickets complete only if they run concurrently.
  await Promise.all([
    node.submit('ticket.create', diamond('T1', repo.dir, rendezvous, 'T2')),
    node.submit('ticket.create', diamond('T2', repo.dir, rendezvous, 'T1')),
  ]);
  const [t1, t2] = await Promise.all([waitTicket(node, 'T1', 'completed'), waitTicket(node, 'T2', 'completed')]);
  t.equal(t1.base_commit, repo.head);
  t.equal(t2.base_commit, repo.head);

  const clones = path.join(node.config.dataDir, 'clones');
  t.same(readdirSync(clones), [path.basename(sharedCloneDir(node.config.dataDir, repo.dir))], 'one clone on the node');
  t.equal(realpathSync(cloneOf(node, 'T1')), realpathSync(cloneOf(node, 'T2')), 'repos/T1 and repos/T2 are one clone');
  t.equal(statSync(path.join(cloneOf(node, 'T1'), 'objects')).ino, statSync(path.join(cloneOf(node, 'T2'), 'objects')).ino, 'objects shared');

  for (const id of ['T1', 'T2']) {
    const tasks = await taskRows(node, id);
    const row = await ticketRow(node, id);
    t.equal(await gitIn(node, id, 'rev-parse', `omoi/${id}`), row!.head, `${id}: its ticket branch at its head`);
    for (const task of ['A', 'B', 'C', 'D']) t.equal(await gitIn(node, id, 'rev-parse', `omoi-task/${id}/${task}`), tasks[task].commit, `${id}: branch of ${task}`);
    const [join] = await sql<any>(node, 'select status, merge_commit from omoi_join where ticket_id = ?', [id]);
    t.equal(join.status, 'merged', `${id}: its join merged`);
    t.equal(tasks.D.base_commit, join.merge_commit);
    const files = (await gitIn(node, id, 'ls-tree', '-r', '--name-only', row!.head)).split('\n').sort();
    t.same(files, ['README.md', `a/${id}.txt`, `b/${id}.txt`, `c/${id}.txt`, `d/${id}.txt`], `${id}: only its own work`);
  }
  // What is left in the shared clone are the node's pooled sandboxes, idle: detached, holding
  // no ticket's branch (src/sandbox/pool.ts), in the pool's own directories.
  const records = path.join(realpathSync(cloneOf(node, 'T1')), 'worktrees');
  const left = existsSync(records) ? readdirSync(records) : [];
  const held = left.filter((name) => readFileSync(path.join(records, name, 'HEAD'), 'utf8').startsWith('ref: '));
  t.same(held, [], 'no sandbox of either ticket holds a branch of the shared clone any more');
  t.ok(left.every((name) => /\/sandboxes\/pool\+\d+\/\.git$/.test(readFileSync(path.join(records, name, 'gitdir'), 'utf8').trim())), `what is left is pooled (${left.length})`);

  // The source moves on; a third ticket fetches it; the first two keep their bases and branches.
  await writeFile(path.join(repo.dir, 'new.txt'), 'new\n');
  await git(repo.dir, 'add', 'new.txt');
  await git(repo.dir, 'commit', '--quiet', '-m', 'new');
  const moved = await git(repo.dir, 'rev-parse', 'HEAD');
  await node.submit('ticket.create', diamond('T3', repo.dir, rendezvous));
  const t3 = await waitTicket(node, 'T3', 'completed');
  t.equal(t3.base_commit, moved, 'the third ticket starts at the new main');
  t.equal((await ticketRow(node, 'T1'))!.base_commit, repo.head, "the first ticket's base did not move");
  t.equal(await gitIn(node, 'T1', 'rev-parse', 'omoi/T1'), t1.head, "nor its branch");
  t.same(readdirSync(clones).length, 1, 'still one clone');
});

t.test('the clone or fetch of a ticket runs before the transaction: a slow one holds back no other partition', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const slowRepo = await makeRepo(t, { 'README.md': 'slow\n' });
  const fastRepo = await makeRepo(t, { 'README.md': 'fast\n' });
  // A held prepare step holds back its own partition (its messages are handled in order), so the
  // slow ticket must share a partition with neither the fast one nor the local agent, whose
  // partition carries the fast ticket's assignment.
  const partitionOfTicket = (id: string) => partitionOf('ticket', id, node.config.partitions);
  const agentPartition = partitionOf('agent', `local-${node.config.nodeId}`, node.config.partitions);
  const ids = (prefix: string) => Array.from({ length: 64 }, (_, i) => `${prefix}${i + 1}`);
  const fast = ids('FAST').find((id) => partitionOfTicket(id) !== agentPartition)!;
  const slow = ids('SLOW').find((id) => ![agentPartition, partitionOfTicket(fast)].includes(partitionOfTicket(id)))!;
  t.ok(fast && slow, 'ticket ids on partitions of their own');
  t.not(partitionOfTicket(slow), partitionOfTicket(fast), 'the two tickets are on different partitions');

  // Hold the slow repository's clone: its prepare step (ensureClone) waits on this lock.
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const holding = repoLock.run(path.resolve(sharedCloneDir(node.config.dataDir, slowRepo.dir)), () => held);
  await node.submit('ticket.create', { ...diamond(slow, slowRepo.dir, ''), tasks: [task('A', 'true')] });
  await new Promise((r) => setTimeout(r, 300)); // SLOW1's prepare step is now waiting on the clone
  await node.submit('ticket.create', { ...diamond(fast, fastRepo.dir, ''), tasks: [task('A', 'true')] });
  try {
    await waitTicket(node, fast, 'completed', 60_000);
    t.equal(await ticketRow(node, slow), undefined, 'the other ticket completed while the slow clone was still being made');
  } finally {
    release(); // also when the wait failed: a held clone would keep the node from stopping
  }
  await holding;
  await waitTicket(node, slow, 'completed', 30_000);
  t.pass('then the slow ticket completed');
});

t.test('a ticket on a repository that does not exist is rejected with a clear error', async (t) => {
  const cluster = await withCluster(t);
  const node = await withNode(t, cluster);
  const missing = path.join(await tempDir(t, 'missing-'), 'nope');
  await node.submit('ticket.create', { ticket_id: 'BAD1', title: 'bad', repository: missing, base_branch: 'main', tasks: [task('A', 'true')] });
  const letter = await waitFor('dead letter of BAD1', async () => (await sql<any>(node, 'select code, reason from omoi_dead_letter'))[0], { timeoutMs: 30_000 });
  t.equal(letter.code, 'repository_unavailable');
  t.match(letter.reason, /does not exist/);
  t.equal(await ticketRow(node, 'BAD1'), undefined, 'no ticket row');
  t.notOk(existsSync(cloneOf(node, 'BAD1')), 'and no link');
});
