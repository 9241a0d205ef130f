import t from 'tap';
import picomatch from 'picomatch';
import { GLOB_OPTIONS, exampleCommonPath, globsIntersect, validateGlob } from '../../src/ownership/index.ts';
import { isTerminal } from '../../src/errors.ts';
import { Bits, fitsUniverse, hasDotsInBraces, instantiate, randomGlob, render, rng, shapes, universe, type Dialect, type GenNode } from './glob-universe.ts';

// Compares globsIntersect with brute force: "some path of the universe matches both globs
// under picomatch". glob-universe.ts explains why the universe is big enough for the pairs
// compared. The seed is printed; set OMOI_GLOB_SEED to replay a failure.
const seed = Number(process.env.OMOI_GLOB_SEED ?? 20240611);

const lit = (char: string) => ({ kind: 'lit', char }) as const;
const cls = (text: string, width = 1) => ({ kind: 'class', text, width }) as const;
const ANY = { kind: 'any' } as const;
const STAR = { kind: 'star' } as const;

const dialects: Array<{ d: Dialect; pool: number; minPairs: number }> = [
  {
    // The brief's shape: segments of a, b, ab, *, ?, **, classes and braces, depth <= 3.
    d: {
      name: 'letters, depth 3',
      alphabet: ['a', 'b', 'c'],
      maxDepth: 3,
      maxSegmentLength: 3,
      atoms: [lit('a'), lit('b'), STAR, ANY, cls('[a-b]'), cls('[!a]'), cls('[^b]'), cls('[!a-b]')],
      maxSegments: 3,
      maxAtoms: 2,
      globstarChance: 0.25,
      braceChance: 0.12,
      slashInBraceChance: 0.25,
    },
    pool: 360,
    minPairs: 5000,
  },
  {
    // Dots: `.` inside names, `*` and `?` next to dots, `.`/`..` segments refused.
    d: {
      name: 'dots, depth 3',
      alphabet: ['a', '.', 'c'],
      maxDepth: 3,
      maxSegmentLength: 3,
      atoms: [lit('a'), lit('.'), lit('.'), STAR, ANY, cls('[!.]'), cls('[.a]'), cls('[!a]')],
      maxSegments: 3,
      maxAtoms: 2,
      globstarChance: 0.2,
      braceChance: 0.1,
      slashInBraceChance: 0.2,
    },
    pool: 300,
    minPairs: 3000,
  },
  {
    // Classes free of regex characters also match their own text: `[ab]` matches "[ab]".
    d: {
      name: 'literal classes, depth 1',
      alphabet: ['a', 'b', '[', ']', 'c'],
      maxDepth: 1,
      maxSegmentLength: 5,
      atoms: [lit('a'), lit('b'), STAR, ANY, cls('[ab]', 4), cls('[a]', 3), cls('[!a]')],
      maxSegments: 1,
      maxAtoms: 3,
      globstarChance: 0.1,
      braceChance: 0.15,
      slashInBraceChance: 0,
    },
    pool: 300,
    minPairs: 3000,
  },
];

t.comment(`glob property seed ${seed} (replay with OMOI_GLOB_SEED=${seed})`);

for (const [index, { d, pool, minPairs }] of dialects.entries()) {
  t.test(`globsIntersect agrees with brute force: ${d.name}`, async (t) => {
    const random = rng(seed + index);
    const trees: GenNode[][] = Array.from({ length: pool }, () => randomGlob(random, d));
    const globs = trees.map(render);
    const shapeOf = trees.map(shapes);

    // Which generated globs the dialect accepts; refusals must be exactly the dot segments.
    const accepted: number[] = [];
    const wrongVerdicts: string[] = [];
    globs.forEach((glob, i) => {
      const expected = hasDotsInBraces(trees[i]!) ? 'bad_brace' : shapeOf[i]!.some((alt) => alt.some((s) => s.dotOnly)) ? 'dot_segment' : undefined;
      let refusal: unknown;
      try {
        validateGlob(glob);
      } catch (err) {
        refusal = err;
      }
      const problem = isTerminal(refusal) ? refusal.details.problem : refusal;
      if (problem !== expected) wrongVerdicts.push(`${glob}: ${String(problem)}, expected ${String(expected)}`);
      if (refusal === undefined) accepted.push(i);
    });
    t.same(wrongVerdicts, [], 'the validator refuses exactly the globs with a "." or ".." segment, or ".." in braces');

    const paths = [...universe(d), ...new Set(accepted.map((i) => globs[i]!))];
    const bits = new Map<number, Bits>();
    for (const i of accepted) {
      const matches = picomatch(globs[i]!, GLOB_OPTIONS);
      const b = new Bits(paths.length);
      paths.forEach((p, k) => matches(p) && b.set(k));
      bits.set(i, b);
    }

    let compared = 0;
    let overlapping = 0;
    const disagreements: string[] = [];
    for (let x = 0; x < accepted.length; x++) {
      for (let y = x; y < accepted.length; y++) {
        const i = accepted[x]!;
        const j = accepted[y]!;
        if (!fitsUniverse(shapeOf[i]!, shapeOf[j]!, d)) continue;
        compared++;
        const witness = bits.get(i)!.firstCommon(bits.get(j)!);
        const expected = witness >= 0;
        if (expected) overlapping++;
        const actual = globsIntersect(globs[i]!, globs[j]!);
        if (actual) {
          const example = exampleCommonPath(globs[i]!, globs[j]!);
          if (example === undefined || !picomatch.isMatch(example, globs[i]!, GLOB_OPTIONS) || !picomatch.isMatch(example, globs[j]!, GLOB_OPTIONS)) {
            disagreements.push(`${JSON.stringify(globs[i])} vs ${JSON.stringify(globs[j])}: example ${JSON.stringify(example)} does not match both`);
          }
        }
        if (actual !== expected) {
          disagreements.push(`${JSON.stringify(globs[i])} vs ${JSON.stringify(globs[j])}: brute force says ${expected}${expected ? ` (e.g. ${JSON.stringify(paths[witness])})` : ''}`);
        }
      }
    }
    t.comment(`${d.name}: ${accepted.length} globs, ${paths.length} paths, ${compared} pairs compared, ${overlapping} overlapping`);
    t.same(disagreements.slice(0, 20), [], `no disagreement (seed ${seed + index})`);
    t.ok(compared >= minPairs, `at least ${minPairs} pairs compared (got ${compared})`);
    // Both answers must be common, or the comparison proves little.
    t.ok(overlapping > compared / 10 && overlapping < (compared * 9) / 10, 'both overlapping and disjoint pairs are common');
  });
}

// Beyond the universe: every dialect feature at once, deeper globs. No finite universe is
// exact here, so each answer is checked on its own terms: "intersect" must come with an
// example path that picomatch matches with both globs; "disjoint" must survive random paths
// drawn from each glob and tried against the other.
t.test('globsIntersect survives a wide fuzz: examples for overlaps, samples for disjoint pairs', async (t) => {
  const d: Dialect = {
    name: 'wide',
    alphabet: ['a', 'b', '.', 'c', '[', ']'],
    maxDepth: Infinity,
    maxSegmentLength: Infinity,
    atoms: [lit('a'), lit('b'), lit('.'), STAR, ANY, cls('[ab]', 4), cls('[a-b]'), cls('[!a]'), cls('[.a]'), cls('[^.]')],
    maxSegments: 4,
    maxAtoms: 3,
    globstarChance: 0.25,
    braceChance: 0.15,
    slashInBraceChance: 0.3,
  };
  const random = rng(seed + 100);
  const classMatches = (cls: string, c: string) => picomatch.isMatch(c, cls, GLOB_OPTIONS);
  const globs: string[] = [];
  const samples: string[][] = [];
  while (globs.length < 300) {
    const tree = randomGlob(random, d);
    const glob = render(tree);
    try {
      validateGlob(glob);
    } catch {
      continue; // dot segments and `..` in braces: covered above
    }
    globs.push(glob);
    const drawn = Array.from({ length: 40 }, () => instantiate(random, tree, d.alphabet, classMatches));
    samples.push(drawn.filter((p): p is string => p !== undefined));
  }
  const matchers = globs.map((g) => picomatch(g, GLOB_OPTIONS));
  // The sampler is approximate (picomatch's quirks); keep the paths their own glob matches,
  // and require most of them to survive so the check keeps its teeth.
  const drawn = samples.reduce((n, s) => n + s.length, 0);
  samples.forEach((s, i) => (samples[i] = s.filter((p) => matchers[i]!(p))));
  const kept = samples.reduce((n, s) => n + s.length, 0);
  const problems: string[] = [];
  let overlaps = 0;
  let disjoint = 0;
  for (let i = 0; i < globs.length; i++) {
    for (let j = i; j < globs.length; j++) {
      if (globsIntersect(globs[i]!, globs[j]!)) {
        overlaps++;
        const example = exampleCommonPath(globs[i]!, globs[j]!);
        if (example === undefined || !matchers[i]!(example) || !matchers[j]!(example)) {
          problems.push(`${JSON.stringify(globs[i])} vs ${JSON.stringify(globs[j])}: example ${JSON.stringify(example)} does not match both`);
        }
      } else {
        disjoint++;
        const clash = samples[i]!.find((p) => matchers[j]!(p)) ?? samples[j]!.find((p) => matchers[i]!(p));
        if (clash !== undefined) problems.push(`${JSON.stringify(globs[i])} vs ${JSON.stringify(globs[j])}: said disjoint, both match ${JSON.stringify(clash)}`);
      }
    }
  }
  t.comment(`wide: ${globs.length} globs, ${overlaps} overlapping and ${disjoint} disjoint pairs, ${kept} sample paths`);
  t.ok(kept > drawn * 0.9, `most sample paths match their own glob (${kept}/${drawn})`);
  t.same(problems.slice(0, 20), [], `no counterexample (seed ${seed + 100})`);
  t.ok(overlaps > 1000 && disjoint > 1000, 'both answers are common');
});
