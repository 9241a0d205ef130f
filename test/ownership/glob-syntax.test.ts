import t from 'tap';
import picomatch from 'picomatch';
import { TerminalError } from '../../src/errors.ts';
import { GLOB_OPTIONS, MAX_ALTERNATIVES, MAX_GLOB_LENGTH, globsIntersect, validateGlob, type GlobProblem } from '../../src/ownership/index.ts';

t.test('accepts the claim dialect', async (t) => {
  const good = [
    'src/auth/**',
    '*.md',
    'src/x/file?.ts',
    'docs/{a,b}/*.md',
    '{src,lib}/{a,{b,c}}/**',
    '{src/a,lib}/x.ts',
    'src/[abc].ts',
    'src/[a-z0-9]*.ts',
    'src/[!a]*.ts',
    'src/[^a]*.ts',
    '[-a]',
    '[a-]',
    '**',
    '**/*.md',
    'a/**/b/**/c',
    '.github/workflows/*.yml',
    '..hidden',
    'c++/src/**',
    'a,b.txt',
    'space in name.txt',
    'ünïcödé/**',
  ];
  for (const glob of good) t.doesNotThrow(() => validateGlob(glob), glob);
});

t.test('refuses everything else with invalid_glob, naming the glob and the problem', async (t) => {
  const bad: Array<[unknown, GlobProblem]> = [
    ['', 'empty'],
    [42, 'not_a_string'],
    ['x'.repeat(MAX_GLOB_LENGTH + 1), 'too_long'],
    ['/etc/passwd', 'absolute'],
    ['{/a,b}', 'absolute'],
    ['a//b', 'empty_segment'],
    ['src/', 'empty_segment'],
    ['{a/,b}/c', 'empty_segment'],
    ['{,a}', 'empty'],
    ['./src', 'dot_segment'],
    ['src/../x', 'dot_segment'],
    ['src/.', 'dot_segment'],
    ['src/[.]', 'dot_segment'],
    ['src/{.,a}/x', 'dot_segment'],
    ['+(a|b)', 'extglob'],
    ['src/@(a)', 'extglob'],
    ['!(a)', 'extglob'],
    ['*(a)', 'extglob'],
    ['?(a)', 'extglob'],
    ['(a)', 'unsupported_syntax'],
    ['a|b', 'unsupported_syntax'],
    ['!src/**', 'unsupported_syntax'],
    ['src/\\*', 'unsupported_syntax'],
    ['"quoted"', 'unsupported_syntax'],
    ['[ab]+', 'unsupported_syntax'],
    ['{a,b}+', 'unsupported_syntax'],
    ['a**', 'bad_globstar'],
    ['**b/c', 'bad_globstar'],
    ['a/***/b', 'bad_globstar'],
    ['{**,a}/b', 'bad_globstar'],
    ['[abc', 'unbalanced_bracket'],
    ['abc]', 'unbalanced_bracket'],
    ['[]a]', 'bad_class'],
    ['[!]', 'bad_class'],
    ['[a/b]', 'bad_class'],
    ['[+-0]', 'bad_class'],
    ['[z-a]', 'bad_class'],
    ['[a-c-e]', 'bad_class'],
    ['[[:alpha:]]', 'bad_class'],
    ['[a\\]]', 'bad_class'],
    ['{a,b', 'unbalanced_brace'],
    ['a,b}', 'unbalanced_brace'],
    ['{a}', 'bad_brace'],
    ['{1..3}', 'bad_brace'],
    ['{a..c,d}', 'bad_brace'],
    ['{a,b}'.repeat(9), 'too_many_alternatives'],
  ];
  for (const [glob, problem] of bad) {
    let error: unknown;
    try {
      validateGlob(glob as string);
    } catch (err) {
      error = err;
    }
    const label = `${String(glob).slice(0, 40)} → ${problem}`;
    t.ok(error instanceof TerminalError && error.code === 'invalid_glob', `${label}: a TerminalError invalid_glob`);
    t.same((error as TerminalError).details, { glob, problem }, `${label}: details name the glob and the problem`);
    t.match((error as Error).message, JSON.stringify(glob).slice(0, 20), `${label}: the message names the glob`);
  }
  t.ok(2 ** 9 > MAX_ALTERNATIVES, 'the last case really exceeds the bound');
});

t.test('accepted literal characters are literal for picomatch too', async (t) => {
  // Every printable ASCII character the parser takes as a literal must mean itself to
  // picomatch, at the start, middle and end of a name; otherwise globsIntersect and the
  // matcher would disagree.
  const specials = new Set([...'*?[]{}/!()|\\"+']);
  const literals = [...Array(95).keys()].map((i) => String.fromCharCode(32 + i)).filter((c) => !specials.has(c));
  literals.push('+'); // `+` is literal except right after `]` or `}`
  for (const c of literals) {
    for (const glob of [`${c}x`, `x${c}y`, `x${c}`, `a/${c}${c}b`]) {
      t.doesNotThrow(() => validateGlob(glob), `${glob} is accepted`);
      const matches = picomatch(glob, GLOB_OPTIONS);
      const other = glob.replace(c, c === 'q' ? 'r' : 'q');
      t.ok(matches(glob) && !matches(other), `picomatch reads ${JSON.stringify(glob)} literally`);
      t.ok(globsIntersect(glob, glob) && !globsIntersect(glob, other), `globsIntersect reads ${JSON.stringify(glob)} literally`);
    }
  }
});
