import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { changedFilesBetween, ensureClone, resolveCommit, setBranch } from '../../src/git/index.ts';
import { git, SourceRepo, tempDir } from './fixture.ts';

t.test('ensureClone clones a local path, then fetches new commits on the next call', async (t) => {
  const root = tempDir(t);
  const source = SourceRepo.create(root);
  const first = git(source.dir, 'rev-parse', 'HEAD');
  const clone = path.join(root, 'data', 'clone');

  await ensureClone(source.dir, clone);
  t.equal(await resolveCommit(clone, 'main'), first, 'main of the clone is the source main');

  const second = source.commit('more', { 'b.txt': 'b\n' });
  source.checkout('feature', first);
  const feature = source.commit('feature', { 'f.txt': 'f\n' });
  await setBranch(clone, 'omoi/t1/a', first); // our own branch must survive the fetch

  await ensureClone(source.dir, clone);
  t.equal(await resolveCommit(clone, 'main'), second, 'main moved after the second call');
  t.equal(await resolveCommit(clone, 'feature'), feature, 'a new source branch arrives');
  t.equal(await resolveCommit(clone, 'omoi/t1/a'), first, 'Omoi branches are left alone');
});

t.test('ensureClone rejects a missing source, and never overwrites a directory it did not make', async (t) => {
  const root = tempDir(t);
  await t.rejects(ensureClone(path.join(root, 'nope'), path.join(root, 'clone')), { code: 'repository_unavailable' });
  const source = SourceRepo.create(root);
  const occupied = path.join(root, 'occupied');
  mkdirSync(occupied);
  writeFileSync(path.join(occupied, 'precious.txt'), 'keep me');
  await t.rejects(ensureClone(source.dir, occupied), { code: 'clone_dir_occupied' });
  t.equal(readFileSync(path.join(occupied, 'precious.txt'), 'utf8'), 'keep me', 'the directory is intact');
});

t.test('resolveCommit resolves branches, shas and expressions; unknown refs are TerminalError', async (t) => {
  const root = tempDir(t);
  const source = SourceRepo.create(root);
  const first = git(source.dir, 'rev-parse', 'HEAD');
  const second = source.commit('two', { 'x.txt': 'x\n' });
  t.equal(await resolveCommit(source.dir, 'main'), second);
  t.equal(await resolveCommit(source.dir, first.slice(0, 10)), first);
  t.equal(await resolveCommit(source.dir, 'main~1'), first);
  await t.rejects(resolveCommit(source.dir, 'no-such-branch'), { name: 'TerminalError', code: 'unknown_ref' });
  await t.rejects(resolveCommit(source.dir, '--output=x'), { code: 'unknown_ref' });
  await t.rejects(resolveCommit(path.join(root, 'missing'), 'main'), { code: 'not_a_repository' });
});

t.test('setBranch creates and force-moves a branch; rejects bad names', async (t) => {
  const root = tempDir(t);
  const source = SourceRepo.create(root);
  const first = git(source.dir, 'rev-parse', 'HEAD');
  const second = source.commit('two', { 'x.txt': 'x\n' });
  await setBranch(source.dir, 'omoi/t/a', first);
  t.equal(git(source.dir, 'rev-parse', 'omoi/t/a'), first);
  await setBranch(source.dir, 'omoi/t/a', second);
  t.equal(git(source.dir, 'rev-parse', 'omoi/t/a'), second, 'moved');
  await t.rejects(setBranch(source.dir, 'bad..name', first), { code: 'invalid_branch' });
  await t.rejects(setBranch(source.dir, 'ok', 'nope'), { code: 'unknown_ref' });
});

t.test('changedFilesBetween lists added, modified and deleted files', async (t) => {
  const root = tempDir(t);
  const source = SourceRepo.create(root, { 'keep.txt': 'k\n', 'edit.txt': 'e\n', 'gone.txt': 'g\n' });
  const from = git(source.dir, 'rev-parse', 'HEAD');
  const to = source.commit('change', { 'edit.txt': 'E\n', 'gone.txt': null, 'dir/new.txt': 'n\n' });
  t.same(await changedFilesBetween(source.dir, from, to), ['dir/new.txt', 'edit.txt', 'gone.txt']);
  t.same(await changedFilesBetween(source.dir, to, to), []);
});
