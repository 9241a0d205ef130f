import { BoundedCache } from './bounded-cache.ts';
import { automataIntersect, buildAutomaton, commonPath, type GlobAutomaton } from './glob-automaton.ts';
import { parseGlob } from './glob-syntax.ts';

/** Compiled globs kept per process; a ticket's claims reuse the same few globs. */
const automata = new BoundedCache<string, GlobAutomaton>(2_048);
/** Intersection results per unordered pair of globs. */
const intersections = new BoundedCache<string, boolean>(16_384);

function compile(glob: string): GlobAutomaton {
  return automata.getOrCompute(glob, () => buildAutomaton(parseGlob(glob)));
}

/**
 * Checks that `glob` belongs to the claim dialect (see `glob-syntax.ts`). Throws
 * `TerminalError` with code `invalid_glob` and details `{ glob, problem }` otherwise.
 * Every glob that passes matches at least one relative file path.
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
  const key = JSON.stringify(a < b ? [a, b] : [b, a]);
  return intersections.getOrCompute(key, () => automataIntersect(left, right));
}

/**
 * A relative file path that both globs match, for explaining a conflict (`undefined` when
 * they do not intersect). One of the shortest such paths; not memoized.
 */
export function exampleCommonPath(a: string, b: string): string | undefined {
  return commonPath(compile(a), compile(b));
}

/** Whether two claims (lists of globs) could touch a common file. An empty claim conflicts with nothing. */
export function claimsConflict(a: readonly string[], b: readonly string[]): boolean {
  for (const glob of [...a, ...b]) validateGlob(glob);
  return a.some((x) => b.some((y) => globsIntersect(x, y)));
}
