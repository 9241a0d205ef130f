import { BoundedCache } from './bounded-cache.ts';
import { automataIntersect, buildAutomaton, type GlobAutomaton } from './glob-automaton.ts';
import { invalidGlob, parseGlob } from './glob-syntax.ts';

/** Compiled globs kept per process; a ticket's claims reuse the same few globs. */
const automata = new BoundedCache<string, GlobAutomaton>(2_048);
/** Intersection results per unordered pair of globs. */
const intersections = new BoundedCache<string, boolean>(16_384);

/** Matches every relative path: the reference for "can this glob match anything?". */
const ANY_PATH = buildAutomaton(parseGlob('**'));

function compile(glob: string): GlobAutomaton {
  return automata.getOrCompute(glob, () => {
    const automaton = buildAutomaton(parseGlob(glob));
    if (!automataIntersect(automaton, ANY_PATH)) {
      throw invalidGlob(glob, 'matches_nothing', 'it cannot match any relative file path');
    }
    return automaton;
  });
}

/**
 * Checks that `glob` belongs to the claim dialect (see `glob-syntax.ts`) and can match at
 * least one relative file path. Throws `TerminalError` with code `invalid_glob` and details
 * `{ glob, problem }` otherwise.
 */
export function validateGlob(glob: string): void {
  compile(glob);
}

/**
 * Whether some relative file path matches both globs (picomatch with `GLOB_OPTIONS`).
 * Exact, not a prefix heuristic: `src/*.ts` and `src/a/b.ts` do not intersect, `a/**\/b` and
 * `a/b` do. Symmetric. Throws `TerminalError` (`invalid_glob`) naming the first invalid glob.
 * Results are memoized per pair in a bounded cache.
 */
export function globsIntersect(a: string, b: string): boolean {
  const left = compile(a);
  const right = compile(b);
  const key = a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
  return intersections.getOrCompute(key, () => automataIntersect(left, right));
}

/** Whether two claims (lists of globs) could touch a common file. An empty claim conflicts with nothing. */
export function claimsConflict(a: readonly string[], b: readonly string[]): boolean {
  for (const glob of [...a, ...b]) validateGlob(glob);
  return a.some((x) => b.some((y) => globsIntersect(x, y)));
}
