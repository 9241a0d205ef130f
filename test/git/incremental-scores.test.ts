import { chmodSync, existsSync } from 'node:fs';
import path from 'node:path';
import NodeGit from 'nodegit';
import t, { type Test } from 'tap';
import { ensureClone, mergeSources } from '../../src/git/index.ts';
import { ScoreBook } from '../../src/git/score-book.ts';
import { readSourceChanges } from '../../src/git/source-changes.ts';
import { git, numberedLines, SourceRepo, tempDir, WHO } from './fixture.ts';

/** A clone whose `main` has `config.py` (60 lines), `README.md` and `docs/guide.md`. */
async function setup(t: Test) {
  const root = tempDir(t);
  const source = SourceRepo.create(root, { 'config.py': numberedLines(60), 'README.md': 'readme\n', 'docs/guide.md': 'guide\n' });
  const base = git(source.dir, 'rev-parse', 'HEAD');
  const clone = path.join(root, 'clone');
  const branch = (name: string, files: Record<string, string | null>, from = base) => {
    source.checkout(name, from);
    return source.commit(name, files);
  };
  return { root, source, base, clone, branch, sync: () => ensureClone(source.dir, clone) };
}

/** A ScoreBook over `sources` of the clone, read the way `mergeSources` reads them. */
async function bookOf(t: Test, clone: string, base: string, sources: Array<{ id: string; commit: string }>): Promise<ScoreBook> {
  const repo = await NodeGit.Repository.open(clone);
  t.teardown(() => repo.cleanup());
  const baseCommit = await repo.getCommit(base);
  const baseTree = await baseCommit.getTree();
  return new ScoreBook(await Promise.all(sources.map(async (source) =>
    ({ source, changes: await readSourceChanges(repo, baseCommit, baseTree, await repo.getCommit(source.commit)) }))));
}

const ids = (sources: Array<{ id: string }>) => sources.map((s) => s.id);

t.test('only sources whose files (or history) the head changed are scored again', async (t) => {
  const s = await setup(t);
  const g = s.branch('g', {}); // an empty commit on the base
  const sources = [
    { id: 'a', commit: s.branch('a', { 'config.py': numberedLines(60, { 10: 'A = 1' }) }) },
    { id: 'b', commit: s.branch('b', { 'config.py': numberedLines(60, { 10: 'B = 2' }) }) }, // same file as a
    { id: 'c', commit: s.branch('c', { 'c.txt': 'c\n' }) }, // disjoint
    { id: 'd', commit: s.branch('d', { 'docs/guide.md': null, 'notes/d.md': 'd\n' }) }, // disjoint
    { id: 'f', commit: s.branch('f', { 'c.txt/inside.md': 'f\n' }) }, // a directory where c adds a file
    { id: 'g', commit: g },
    { id: 'h', commit: s.branch('h', { 'h.txt': 'h\n' }, g) }, // shares g's history, not its files
  ];
  await s.sync();
  const book = await bookOf(t, s.clone, s.base, sources);
  t.same(ids(book.stale()), [], 'against the base itself no descendant can conflict: nothing to score');
  t.same(book.next(), { source: sources[0], conflicts: [], direct: [{ path: 'config.py', id: git(s.clone, 'rev-parse', `${sources[0]!.commit}:config.py`), mode: 0o100644 }] },
    'first by id, merged directly: its changes applied to the head');

  book.merged('a', ['config.py']);
  t.same(ids(book.stale()), ['b'], 'b changed the same file; the disjoint ones keep their score');
  book.score('b', ['config.py']);
  t.equal(book.next().source.id, 'c', 'b now conflicts, so the disjoint c goes first');

  book.merged('c', ['c.txt']);
  t.same(ids(book.stale()), ['b', 'f'], 'f adds under the path c made a file; b, once overlapped, is scored by a real merge every step');
  book.score('b', ['config.py']);
  book.score('f', ['c.txt']);
  t.same(book.next(), { source: sources[3], conflicts: [], direct: [{ path: 'docs/guide.md', id: null, mode: 0 }, { path: 'notes/d.md', id: git(s.clone, 'rev-parse', `${sources[3]!.commit}:notes/d.md`), mode: 0o100644 }] },
    'd is still disjoint: scored [] without a merge, its deletion applied directly');
  book.merged('d', ['docs/guide.md', 'notes/d.md']);
  book.score('b', ['config.py']);
  book.score('f', ['c.txt']);
  t.equal(book.next().source.id, 'g');
  book.merged('g', []);
  t.same(ids(book.stale()), ['b', 'f', 'h'], 'h\'s merge base moved to g: no longer scored without a merge');
  book.score('b', ['config.py']);
  book.score('f', ['c.txt']);
  book.score('h', []);
  t.same(book.next(), { source: sources[6], conflicts: [], direct: null }, 'and not merged directly');
});

t.test('a source that does not descend from the base is scored by a real merge every time', async (t) => {
  const s = await setup(t);
  const older = s.branch('older', { 'x.txt': 'older\n' }, `${s.base}`);
  const base2 = s.branch('main', { 'README.md': 'readme 2\n' }, s.base);
  const sources = [{ id: 'new', commit: s.branch('new', { 'n.txt': 'n\n' }, base2) }, { id: 'old', commit: older }];
  await s.sync();
  const book = await bookOf(t, s.clone, base2, sources);
  t.same(ids(book.stale()), ['old']);
  book.score('old', []);
  book.merged('new', ['n.txt']);
  t.same(ids(book.stale()), ['old'], 'again after an unrelated step');
});

t.test('mergeSources: an overlapping source is re-scored against the head it merges into and its conflicts recorded', async (t) => {
  const s = await setup(t);
  const a = s.branch('a', { 'config.py': numberedLines(60, { 10: 'A = 1' }) });
  const b = s.branch('b', { 'config.py': numberedLines(60, { 10: 'B = 2' }), 'b.txt': 'b\n' });
  const c = s.branch('c', { 'c.txt': 'c\n' });
  await s.sync();
  const sources = [{ id: 'task-b', commit: b }, { id: 'task-a', commit: a }, { id: 'task-c', commit: c }];
  const sandboxDir = path.join(s.root, 'sandbox');

  const blocked = await mergeSources({ repoDir: s.clone, sandboxDir, base: s.base, sources, who: WHO });
  t.equal(blocked.ok, false);
  if (blocked.ok) return;
  t.same(blocked.attempt.order, ['task-a', 'task-c', 'task-b'], 'all score 0 against the base; after a, b conflicts and goes last');
  t.same(blocked.attempt.conflicts, { 'task-a': [], 'task-c': [], 'task-b': ['config.py'] }, 'b\'s conflict is the one against the head it met');
  t.same(blocked.files, ['config.py']);
  t.notOk(existsSync(sandboxDir));

  const resolver = `sed -i -e '/^<<<<<<<\\|^=======\\|^>>>>>>>/d' -e '/^A = 1$/d' config.py`;
  const merged = await mergeSources({ repoDir: s.clone, sandboxDir, base: s.base, sources, who: WHO, resolverCommand: resolver });
  t.ok(merged.ok);
  if (!merged.ok) return;
  t.same(merged.attempt.resolutions, [{ file: 'config.py', source: 'task-b', by: 'resolver' }]);
  t.equal(git(s.clone, 'show', `${merged.commit}:config.py`), numberedLines(60, { 10: 'B = 2' }).trim());
  t.equal(git(s.clone, 'show', `${merged.commit}:c.txt`), 'c');
  t.equal(git(s.clone, 'show', `${merged.commit}:b.txt`), 'b');
});

t.test('many disjoint sources: the directly built merges equal what git merges, every one a two-parent commit', async (t) => {
  const s = await setup(t);
  const sources: Array<{ id: string; commit: string }> = [];
  for (let i = 0; i < 12; i++) sources.push({ id: `add-${String(i).padStart(2, '0')}`, commit: s.branch(`add-${i}`, { [`pkg/m${i}/mod.ts`]: `export const m${i} = ${i};\n` }) });
  sources.push({ id: 'delete-guide', commit: s.branch('delete-guide', { 'docs/guide.md': null }) });
  sources.push({ id: 'edit-readme', commit: s.branch('edit-readme', { 'README.md': 'readme, edited\n' }) });
  s.source.checkout('chmod', s.base);
  chmodSync(path.join(s.source.dir, 'config.py'), 0o755);
  sources.push({ id: 'make-executable', commit: s.source.commit('chmod', {}) });
  s.source.checkout('main');
  await s.sync();

  const outcome = await mergeSources({ repoDir: s.clone, sandboxDir: path.join(s.root, 'sandbox'), base: s.base, sources, who: WHO });
  t.ok(outcome.ok);
  if (!outcome.ok) return;
  t.same(outcome.attempt.order, sources.map((x) => x.id).sort(), 'no conflicts anywhere: by id');
  t.ok(Object.values(outcome.attempt.conflicts).every((c) => c.length === 0));

  // The same merges done by git, in the same order.
  const work = path.join(s.root, 'git-merge');
  git(s.clone, 'worktree', 'add', '-q', '--detach', work, s.base);
  for (const id of outcome.attempt.order) git(work, '-c', 'user.name=x', '-c', 'user.email=x@x', 'merge', '-q', '--no-ff', '-m', id, sources.find((x) => x.id === id)!.commit);
  t.equal(git(s.clone, 'rev-parse', `${outcome.commit}^{tree}`), git(work, 'rev-parse', 'HEAD^{tree}'), 'the same tree as git\'s merges');

  let sha = outcome.commit;
  for (const id of [...outcome.attempt.order].reverse()) {
    const parents = git(s.clone, 'rev-list', '--parents', '-n', '1', sha).split(' ').slice(1);
    t.same(parents.slice(1), [sources.find((x) => x.id === id)!.commit], `${id}: a two-parent merge of its source`);
    sha = parents[0]!;
  }
  t.equal(sha, s.base, 'the chain starts at the base');

  const again = await mergeSources({ repoDir: s.clone, sandboxDir: path.join(s.root, 'sandbox'), base: s.base, sources: [...sources].reverse(), who: WHO });
  t.equal(again.ok && again.commit, outcome.commit, 'same inputs, same sha');
});
