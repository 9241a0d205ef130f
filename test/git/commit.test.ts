import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { addWorktree, commitAll, ensureClone, removeWorktreeDir } from '../../src/git/index.ts';
import { git, SourceRepo, tempDir, WHO } from './fixture.ts';

async function worktreeOf(t: Test, name: string) {
  const root = tempDir(t);
  const source = SourceRepo.create(root, { 'keep.txt': 'k\n', 'edit.txt': 'e\n', 'gone.txt': 'g\n', '.gitignore': '*.log\n' });
  const clone = path.join(root, 'clone');
  await ensureClone(source.dir, clone);
  const dir = path.join(root, name);
  await addWorktree(clone, dir, 'main', { branch: `omoi/t/${name}` });
  t.teardown(() => removeWorktreeDir(dir));
  return { clone, dir, base: git(clone, 'rev-parse', 'main') };
}

t.test('commitAll stages additions, modifications and deletions on the worktree branch', async (t) => {
  const { clone, dir, base } = await worktreeOf(t, 'w1');
  writeFileSync(path.join(dir, 'edit.txt'), 'E\n');
  rmSync(path.join(dir, 'gone.txt'));
  mkdirSync(path.join(dir, 'new'));
  writeFileSync(path.join(dir, 'new', 'file.txt'), 'n\n');
  writeFileSync(path.join(dir, 'debug.log'), 'ignored\n');

  const { commit, changedFiles } = await commitAll(dir, 'task work', WHO);
  t.same(changedFiles, ['edit.txt', 'gone.txt', 'new/file.txt'], 'ignored files are not committed');
  t.equal(git(clone, 'rev-parse', 'omoi/t/w1'), commit, 'the task branch points at the commit');
  t.equal(git(clone, 'rev-parse', `${commit}^`), base, 'parent is the base');
  t.equal(git(clone, 'show', `${commit}:edit.txt`), 'E');
  t.equal(git(clone, 'show', `${commit}:new/file.txt`), 'n');
  t.throws(() => git(clone, 'show', `${commit}:gone.txt`), 'deleted file is gone from the commit');
  t.equal(git(clone, 'log', '-1', '--format=%an <%ae> %at %s', commit), `Omoi <omoi@example.com> ${WHO.time.getTime() / 1000} task work`);
  t.equal(git(dir, 'status', '--porcelain'), '', 'worktree is clean afterwards');
});

t.test('commitAll with nothing changed returns HEAD and no files', async (t) => {
  const { dir, base } = await worktreeOf(t, 'w2');
  t.same(await commitAll(dir, 'nothing', WHO), { commit: base, changedFiles: [], parent: base });
});

t.test('the same changes, message and identity give the same sha (deterministic)', async (t) => {
  const a = await worktreeOf(t, 'wa');
  const otherDir = path.join(path.dirname(a.dir), 'wb');
  await addWorktree(a.clone, otherDir, 'main', { branch: 'omoi/t/wb' });
  t.teardown(() => removeWorktreeDir(otherDir));
  for (const dir of [a.dir, otherDir]) writeFileSync(path.join(dir, 'edit.txt'), 'same\n');
  const first = await commitAll(a.dir, 'same message', WHO);
  const second = await commitAll(otherDir, 'same message', WHO);
  t.not(first.commit, a.base, 'a commit was made');
  t.equal(first.commit, second.commit, 'same sha from two worktrees');
});
