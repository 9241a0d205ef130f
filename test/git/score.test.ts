import path from 'node:path';
import t from 'tap';
import { ensureClone, scoreSources } from '../../src/git/index.ts';
import { git, SourceRepo, tempDir } from './fixture.ts';

t.test('sources with 2, 0 and 1 conflicting files are ordered 0, 1, 2', async (t) => {
  const root = tempDir(t);
  const files = { 'a.txt': 'a\n', 'b.txt': 'b\n', 'c.txt': 'c\n', 'd.txt': 'd\n' };
  const source = SourceRepo.create(root, files);
  const base = git(source.dir, 'rev-parse', 'HEAD');
  const head = source.commit('head edits a, b, c', { 'a.txt': 'A-head\n', 'b.txt': 'B-head\n', 'c.txt': 'C-head\n' });
  // Ids chosen so that id order (a, b, c) differs from conflict order.
  source.checkout('two', base);
  const two = source.commit('edits a and b', { 'a.txt': 'A-two\n', 'b.txt': 'B-two\n' });
  source.checkout('zero', base);
  const zero = source.commit('edits d only', { 'd.txt': 'D-zero\n' });
  source.checkout('one', base);
  const one = source.commit('edits c', { 'c.txt': 'C-one\n' });

  const clone = path.join(root, 'clone');
  await ensureClone(source.dir, clone);
  const scores = await scoreSources(clone, head, [
    { id: 'a-two', commit: two },
    { id: 'b-zero', commit: zero },
    { id: 'c-one', commit: one },
  ]);
  t.same(scores, [
    { id: 'b-zero', conflicts: [] },
    { id: 'c-one', conflicts: ['c.txt'] },
    { id: 'a-two', conflicts: ['a.txt', 'b.txt'] },
  ]);
  t.equal(git(clone, 'rev-parse', 'main'), head, 'scoring moved no ref');
});

t.test('ties are broken by source id; unknown commits are TerminalError', async (t) => {
  const root = tempDir(t);
  const source = SourceRepo.create(root);
  const base = git(source.dir, 'rev-parse', 'HEAD');
  const x = source.commit('x', { 'x.txt': 'x\n' });
  source.checkout('y', base);
  const y = source.commit('y', { 'y.txt': 'y\n' });
  const scores = await scoreSources(source.dir, base, [{ id: 'z', commit: x }, { id: 'm', commit: y }]);
  t.same(scores.map((s) => s.id), ['m', 'z']);
  await t.rejects(scoreSources(source.dir, base, [{ id: 'bad', commit: 'no-such-ref' }]), { code: 'unknown_ref' });
});
