import t from 'tap';
import { applyBuiltInRules, hasConflictMarkers } from '../../src/git/index.ts';

const FILE = 0o100644;
const EXEC = 0o100755;
const v = (id: string, mode = FILE) => ({ id: id.repeat(40).slice(0, 40), mode });

t.test('identical sides are taken', async (t) => {
  t.same(applyBuiltInRules({ path: 'f', ancestor: v('a'), ours: v('b'), theirs: v('b') }), { rule: 'identical', keep: v('b') });
  t.same(applyBuiltInRules({ path: 'f', ancestor: null, ours: v('b'), theirs: v('b') }), { rule: 'identical', keep: v('b') }, 'add/add of the same file');
  t.same(applyBuiltInRules({ path: 'f', ancestor: v('a'), ours: null, theirs: null }), { rule: 'identical', keep: null }, 'both deleted');
});

t.test('a side unchanged from the base yields to the other side', async (t) => {
  t.same(applyBuiltInRules({ path: 'f', ancestor: v('a'), ours: v('a'), theirs: v('c') }), { rule: 'ours-unchanged', keep: v('c') });
  t.same(applyBuiltInRules({ path: 'f', ancestor: v('a'), ours: v('b'), theirs: v('a') }), { rule: 'theirs-unchanged', keep: v('b') });
  t.same(applyBuiltInRules({ path: 'f', ancestor: v('a'), ours: v('a'), theirs: null }), { rule: 'ours-unchanged', keep: null }, 'their deletion wins over our non-change');
});

t.test('real conflicts are left for the resolver', async (t) => {
  t.equal(applyBuiltInRules({ path: 'f', ancestor: v('a'), ours: v('b'), theirs: v('c') }), null, 'both changed differently');
  t.equal(applyBuiltInRules({ path: 'f', ancestor: null, ours: v('b'), theirs: v('c') }), null, 'added differently');
  t.equal(applyBuiltInRules({ path: 'f', ancestor: v('a'), ours: null, theirs: v('c') }), null, 'deleted vs modified');
  t.equal(applyBuiltInRules({ path: 'f', ancestor: v('a'), ours: v('b'), theirs: v('b', EXEC) }), null, 'same content, different mode');
});

t.test('conflict markers are recognised at line starts only', async (t) => {
  t.ok(hasConflictMarkers('a\n<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> b\n'));
  t.ok(hasConflictMarkers('a\n>>>>>>> b\n'), 'a stray closing marker counts');
  t.notOk(hasConflictMarkers('Title\n=======\n\ntext with <<<<<<< inside\n'), 'rst heading and inline text are fine');
});
