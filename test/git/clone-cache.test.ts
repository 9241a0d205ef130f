import { existsSync, lstatSync, lutimesSync, mkdirSync, realpathSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import {
  attachTicketClone, linkedClone, prepareTicketClone, refreshTicketClone, resolveCommit, setBranch, sharedCloneDir, sweepClones, ticketRepoDir,
  addWorktree, removeWorktreeDir, type TicketLiveness,
} from '../../src/git/index.ts';
import { cloneName, normalizeSource } from '../../src/git/clone-cache.ts';
import { git, SourceRepo, tempDir } from './fixture.ts';

t.test('the clone name derives from the normalized source', async (t) => {
  const root = tempDir(t);
  const source = SourceRepo.create(root);
  t.equal(cloneName(source.dir), cloneName(`${source.dir}/`), 'a trailing slash names the same repository');
  t.equal(cloneName(source.dir), cloneName(path.join(source.dir, '.git')), 'a repository and its .git are one');
  t.not(cloneName(source.dir), cloneName(`${source.dir}.git`), 'a local foo and foo.git are two repositories');
  t.equal(cloneName(source.dir), cloneName(path.relative(process.cwd(), source.dir)), 'relative and absolute paths agree');
  t.equal(normalizeSource('HTTPS://Example.COM/Org/Repo.git/'), 'https://example.com/Org/Repo', 'scheme and host lower case, no .git');
  t.equal(cloneName('https://example.com/org/repo.git'), cloneName('https://EXAMPLE.com/org/repo'));
  t.not(cloneName('https://example.com/org/repo'), cloneName('https://example.com/other/repo'), 'same basename, other repository');
  t.match(cloneName('git@example.com:org/my repo.git'), /^my_repo-[0-9a-f]{12}$/);
});

t.test('two tickets on one repository share one clone; each its own link, branches and sandboxes', async (t) => {
  const root = tempDir(t);
  const data = path.join(root, 'data');
  const source = SourceRepo.create(root);
  const first = git(source.dir, 'rev-parse', 'HEAD');

  await prepareTicketClone(data, 'T1', source.dir);
  await attachTicketClone(data, 'T1', source.dir);
  const baseT1 = await resolveCommit(ticketRepoDir(data, 'T1'), 'main');
  t.equal(baseT1, first);

  // The source moves on; the second ticket's prepare fetches it without touching T1's base or branches.
  const second = source.commit('more', { 'b.txt': 'b\n' });
  await setBranch(ticketRepoDir(data, 'T1'), 'omoi/T1', first);
  await setBranch(ticketRepoDir(data, 'T1'), 'omoi-task/T1/A', first);
  source.checkout('omoi/T1', second); // the source has a branch with the name of a ticket branch
  source.checkout('main');
  await prepareTicketClone(data, 'T2', `${source.dir}/`);
  await attachTicketClone(data, 'T2', source.dir);
  t.equal(await resolveCommit(ticketRepoDir(data, 'T2'), 'main'), second, 'the second ticket sees the new main');
  t.equal(baseT1, first, "the first ticket's base is the sha on its row");
  t.equal(await resolveCommit(ticketRepoDir(data, 'T1'), baseT1), first, 'and still resolves');
  t.equal(await resolveCommit(ticketRepoDir(data, 'T1'), 'omoi/T1'), first, "a fetch never moves a ticket's branch, even if the source has one of that name");
  t.equal(await resolveCommit(ticketRepoDir(data, 'T1'), 'omoi-task/T1/A'), first);

  const clone = sharedCloneDir(data, source.dir);
  t.ok(lstatSync(ticketRepoDir(data, 'T1')).isSymbolicLink(), 'repos/T1 is a link');
  t.equal(realpathSync(ticketRepoDir(data, 'T1')), realpathSync(clone));
  t.equal(realpathSync(ticketRepoDir(data, 'T2')), realpathSync(clone), 'both tickets link to one clone');
  t.equal(statSync(path.join(ticketRepoDir(data, 'T1'), 'objects')).ino, statSync(path.join(ticketRepoDir(data, 'T2'), 'objects')).ino, 'one objects directory');
  t.equal(git(ticketRepoDir(data, 'T1'), 'rev-parse', 'main'), second, 'the git CLI works through the link');

  // Sandboxes of both tickets at once: worktree records under the real clone, branches per ticket.
  const wt1 = path.join(root, 'sandboxes', 'task-T1-A-1');
  const wt2 = path.join(root, 'sandboxes', 'task-T2-A-1');
  await Promise.all([
    addWorktree(ticketRepoDir(data, 'T1'), wt1, first, { branch: 'omoi-task/T1/A' }),
    addWorktree(ticketRepoDir(data, 'T2'), wt2, second, { branch: 'omoi-task/T2/A' }),
  ]);
  t.ok(existsSync(path.join(clone, 'worktrees', 'task-T1-A-1')), "T1's record is in the shared clone");
  t.ok(existsSync(path.join(clone, 'worktrees', 'task-T2-A-1')), "T2's record too");
  t.equal(git(wt1, 'rev-parse', 'HEAD'), first);
  t.equal(git(wt2, 'rev-parse', 'HEAD'), second);
  t.equal(git(wt2, 'rev-parse', '--abbrev-ref', 'HEAD'), 'omoi-task/T2/A');
  const listed = git(clone, 'worktree', 'list', '--porcelain');
  t.match(listed, /omoi-task\/T1\/A/);
  t.match(listed, /omoi-task\/T2\/A/);
  // A fetch while both sandboxes are live (their branches checked out) still works.
  source.commit('third', { 'c.txt': 'c\n' });
  await refreshTicketClone(data, 'T1');
  t.equal(git(clone, 'rev-parse', 'main'), git(source.dir, 'rev-parse', 'main'), 'fetched with sandboxes live');
  await removeWorktreeDir(wt1);
  await removeWorktreeDir(wt2);
  t.notOk(existsSync(path.join(clone, 'worktrees', 'task-T1-A-1')));
});

t.test('a prepare step never re-points a live link; the handler attaches and fetches what it lacks', async (t) => {
  const root = tempDir(t);
  const data = path.join(root, 'data');
  const a = SourceRepo.create(path.join(root, 'a'));
  const b = SourceRepo.create(path.join(root, 'b'));
  await prepareTicketClone(data, 'T1', a.dir);
  await prepareTicketClone(data, 'T1', b.dir); // a duplicate ticket.create naming another repository
  t.equal(await linkedClone(data, 'T1'), sharedCloneDir(data, a.dir), 'the link still points at the first repository');

  // Without a prepare step (the fallback), the handler clones and links itself.
  await attachTicketClone(data, 'T3', a.dir);
  t.equal(await linkedClone(data, 'T3'), sharedCloneDir(data, a.dir));
  const later = a.commit('later', { 'l.txt': 'l\n' });
  await attachTicketClone(data, 'T3', a.dir, later);
  t.equal(await resolveCommit(ticketRepoDir(data, 'T3'), later), later, 'a wanted commit the clone lacks is fetched');

  await t.rejects(prepareTicketClone(data, 'T4', path.join(root, 'nope')), { code: 'repository_unavailable' }, 'a missing source is a clear error');
  t.notOk(existsSync(ticketRepoDir(data, 'T4')), 'and leaves no link');
});

t.test('a data dir from before the clone cache keeps its per-ticket clone', async (t) => {
  const root = tempDir(t);
  const data = path.join(root, 'data');
  const source = SourceRepo.create(root);
  mkdirSync(path.join(data, 'repos'), { recursive: true });
  git(root, 'clone', '--quiet', '--bare', source.dir, ticketRepoDir(data, 'OLD'));
  const next = source.commit('next', { 'n.txt': 'n\n' });
  await prepareTicketClone(data, 'OLD', source.dir);
  await attachTicketClone(data, 'OLD', source.dir, next);
  t.ok(lstatSync(ticketRepoDir(data, 'OLD')).isDirectory(), 'still a directory');
  t.equal(await resolveCommit(ticketRepoDir(data, 'OLD'), next), next, 'fetched in place');
  const swept = await sweepClones(data, { tickets: async () => new Map(), retainFinishedMs: 0, graceMs: 0 });
  t.same(swept.links, [], 'never swept');
});

t.test('the sweep removes clones no ticket needs, never one a ticket uses', async (t) => {
  const root = tempDir(t);
  const data = path.join(root, 'data');
  const shared = SourceRepo.create(path.join(root, 'shared'));
  const other = SourceRepo.create(path.join(root, 'other'));
  for (const id of ['LIVE', 'DONE']) await prepareTicketClone(data, id, shared.dir);
  for (const id of ['OLD', 'GONE', 'YOUNG']) await prepareTicketClone(data, id, other.dir);
  const now = new Date();
  const hourAgo = new Date(now.getTime() - 3_600_000);
  // Everything but YOUNG's link was made long ago.
  for (const id of ['LIVE', 'DONE', 'OLD', 'GONE']) lutimesSync(ticketRepoDir(data, id), hourAgo, hourAgo);
  const rows = new Map<string, TicketLiveness>([
    ['LIVE', { status: 'running', updatedAt: hourAgo }],
    ['DONE', { status: 'completed', updatedAt: hourAgo }],
    ['OLD', { status: 'completed', updatedAt: new Date(now.getTime() - 10 * 3_600_000) }],
    // GONE: no row (e.g. a database reset); YOUNG: no row yet, its transaction may still commit.
  ]);
  const { symlinkSync } = await import('node:fs');
  symlinkSync('../clones/x', path.join(data, 'repos', 'LIVE.link-1-2')); // a crash between symlink and rename
  lutimesSync(path.join(data, 'repos', 'LIVE.link-1-2'), hourAgo, hourAgo);
  const told: string[] = [];
  const sweep = (o: { retainFinishedMs: number; graceMs: number }) => sweepClones(data, {
    tickets: async (ids) => new Map(ids.flatMap((id) => (rows.has(id) ? [[id, rows.get(id)!] as const] : []))), now, ...o,
    beforeRemove: async (clone) => { told.push(clone); t.ok(existsSync(clone), 'beforeRemove is told while the clone still exists'); },
  });

  let r = await sweep({ retainFinishedMs: 2 * 3_600_000, graceMs: 60_000 });
  t.same(r.links, ['GONE', 'OLD'], 'links of tickets without a row or finished long ago');
  t.throws(() => lstatSync(path.join(data, 'repos', 'LIVE.link-1-2')), { code: 'ENOENT' }, 'a half-made link is dropped');
  t.same(r.clones, [], "the other repository's clone is still linked by YOUNG (inside the grace period)");
  t.ok(existsSync(sharedCloneDir(data, other.dir)));

  lutimesSync(ticketRepoDir(data, 'YOUNG'), hourAgo, hourAgo);
  utimesSync(sharedCloneDir(data, other.dir), hourAgo, hourAgo);
  r = await sweep({ retainFinishedMs: 2 * 3_600_000, graceMs: 60_000 });
  t.same(r, { links: ['YOUNG'], clones: [cloneName(other.dir)] }, 'then the unlinked clone goes');
  t.notOk(existsSync(sharedCloneDir(data, other.dir)));
  t.same(told, [sharedCloneDir(data, other.dir)], 'the node was told before it went (its pooled sandboxes are dropped)');

  utimesSync(sharedCloneDir(data, shared.dir), hourAgo, hourAgo);
  r = await sweep({ retainFinishedMs: 0, graceMs: 60_000 });
  t.same(r, { links: ['DONE'], clones: [] }, 'a finished ticket loses its link; the clone stays for the running one');
  t.ok(existsSync(path.join(ticketRepoDir(data, 'LIVE'), 'HEAD')), 'LIVE still has its clone');
  t.equal(git(ticketRepoDir(data, 'LIVE'), 'rev-parse', 'main'), git(shared.dir, 'rev-parse', 'main'));
});

t.test('tickets prepared at once share fetches, and each sees the commits made before it asked', async (t) => {
  const root = tempDir(t);
  const data = path.join(root, 'data');
  const source = SourceRepo.create(root);
  await prepareTicketClone(data, 'W0', source.dir);
  const x = source.commit('x', { 'x.txt': 'x\n' });
  const first = Array.from({ length: 10 }, (_, i) => prepareTicketClone(data, `W${i + 1}`, source.dir));
  const y = source.commit('y', { 'y.txt': 'y\n' }); // while the first fetches run
  const second = Array.from({ length: 5 }, (_, i) => prepareTicketClone(data, `V${i}`, source.dir).then(() => resolveCommit(ticketRepoDir(data, `V${i}`), 'main')));
  await Promise.all(first);
  t.ok(await resolveCommit(ticketRepoDir(data, 'W1'), x), 'the first group sees x');
  t.same(await Promise.all(second), [y, y, y, y, y], 'every ticket that asked after y sees y');
  const linked = await Promise.all([...first.keys()].map((i) => linkedClone(data, `W${i + 1}`)));
  t.same(new Set(linked), new Set([sharedCloneDir(data, source.dir)]), 'all linked to the one clone');
});
