import t from 'tap';
import picomatch from 'picomatch';
import { GLOB_OPTIONS, claimsConflict, exampleCommonPath, globMatcher, globsIntersect } from '../../src/ownership/index.ts';

/** [a, b, intersect?] — each checked both ways round. */
const cases: Array<[string, string, boolean]> = [
  // The brief's cases.
  ['src/auth/**', 'src/auth/login.ts', true],
  ['src/x/**', 'src/y/**', false],
  ['**/*.md', 'docs/a.txt', false],
  ['src/*.ts', 'src/a/b.ts', false],
  ['**', 'src/deep/nested/file.ts', true],
  ['**', '*.md', true],
  ['a/**/b', 'a/b', true],
  // Not prefix rules: real intersections.
  ['src/**/*.test.ts', 'src/auth/**', true],
  ['src/*/index.ts', 'src/**/x.ts', false],
  ['**/*.md', 'docs/**', true],
  ['*.md', 'docs/*.md', false],
  ['src/{a,b}/**', 'src/c/**', false],
  ['src/{a,b}/**', 'src/b/x.ts', true],
  ['docs/{a,b}/*.md', 'docs/a/intro.md', true],
  ['src/x/file?.ts', 'src/x/file10.ts', false],
  ['src/x/file?.ts', 'src/x/file1.ts', true],
  ['src/[a-c]*.ts', 'src/d*.ts', false],
  ['src/[!a]*.ts', 'src/a*.ts', false],
  ['src/[!a]*.ts', 'src/b*.ts', true],
  ['a*', '*b', true],
  ['a*b', 'b*a', false],
  ['**/a/**', '**/b/**', true],
  ['x/**/y', 'x/y/z', false],
  // Dotfiles are files (dot: true), but "." and ".." are never path segments.
  ['*', '.env', true],
  ['**/*.yml', '.github/workflows/ci.yml', true],
  ['*.md', '.md', true],
  ['x/?/y', 'x/[.!]/y', true], // "x/!/y", never "x/./y"
  ['x/[.][.]*/y', 'x/???/y', true], // "x/..a/y" is a file name
  // picomatch's own readings, matched exactly.
  ['src/*/**', 'src/a', false], // a trailing `/**` after a `*` needs one more segment
  ['src/a/**', 'src/a', true], // ... otherwise it may match nothing
  ['x/**/{a,*}', 'x', true], // `X(?:/G/|/|$)Y` with a `Y` that can be empty
  ['x{.*,b}', 'x.', false], // `.*` inside braces refuses an empty or "." rest
  ['*.*', 'a.', false], // picomatch's fast path for exactly `*.*`
  ['a*.*', 'a.', true],
  ['[ab]', '????', true], // a class without regex characters also matches its own text
  ['[a-b]', '?????', true], // every glob matches its own text ("[a-b]")
  ['{a,b}', '?????', true],
];

for (const [a, b, expected] of cases) {
  t.equal(globsIntersect(a, b), expected, `${a} ∩ ${b}: ${expected}`);
  t.equal(globsIntersect(b, a), expected, `${b} ∩ ${a}: ${expected}`);
  const example = exampleCommonPath(a, b);
  if (expected) {
    t.ok(example !== undefined && picomatch.isMatch(example, a, GLOB_OPTIONS) && picomatch.isMatch(example, b, GLOB_OPTIONS), `${a} ∩ ${b} is shown by ${JSON.stringify(example)}`);
  } else {
    t.equal(example, undefined, `${a} ∩ ${b} has no example`);
  }
}

t.test('claimsConflict: any pair of globs intersecting', async (t) => {
  t.ok(claimsConflict(['docs/**', 'src/auth/**'], ['src/auth/login.ts']));
  t.notOk(claimsConflict(['docs/**', 'src/auth/**'], ['src/x/**', 'README.md']));
  t.notOk(claimsConflict([], ['**']), 'an empty claim conflicts with nothing');
  t.notOk(claimsConflict(['**'], []));
  t.throws(() => claimsConflict([], ['+(a)']), { code: 'invalid_glob' }, 'globs are checked even when the other claim is empty');
});

t.test('globsIntersect refuses globs outside the dialect, naming them', async (t) => {
  t.throws(() => globsIntersect('src/**', 'src/@(a|b)'), { code: 'invalid_glob', details: { glob: 'src/@(a|b)' } });
  t.throws(() => globsIntersect('/etc/passwd', 'src/**'), { code: 'invalid_glob', details: { glob: '/etc/passwd', problem: 'absolute' } });
  t.throws(() => globsIntersect('src/**', 'src/../x'), /invalid glob "src\/\.\.\/x"/);
});

t.test('results are memoized but stay right for new pairs', async (t) => {
  // Same pair twice (cache hit), then many distinct pairs (evictions): answers never change.
  t.equal(globsIntersect('memo/a/**', 'memo/a/b'), true);
  t.equal(globsIntersect('memo/a/b', 'memo/a/**'), true);
  for (let i = 0; i < 2_500; i++) globsIntersect(`fill/${i}/*`, `fill/${i + 1}/*`);
  t.equal(globsIntersect('memo/a/**', 'memo/a/b'), true);
  t.equal(globsIntersect('memo/a/**', 'memo/b/**'), false);
});

t.test('globMatcher uses the same dialect as globsIntersect', async (t) => {
  const owns = globMatcher(['src/[!a]*.ts', 'docs/**']);
  t.ok(owns('src/b.ts'));
  t.notOk(owns('src/a.ts'), '[!a] negates (picomatch needs posix: true for that)');
  t.ok(owns('docs'));
  t.ok(owns('docs/deep/x.md'));
  t.notOk(owns('README.md'));
  t.notOk(globMatcher([])('anything'), 'no globs match nothing');
  t.throws(() => globMatcher(['src/**', '!src/x']), { code: 'invalid_glob' });
});
