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
  if (!literalPrefixesAgree(a, b)) return false;
  const key = JSON.stringify(a < b ? [a, b] : [b, a]);
  return intersections.getOrCompute(key, () => automataIntersect(left, right));
}

/**
 * Every path a glob matches begins with the glob's literal prefix (its characters before the
 * first `*`, `?`, `[`, `{` or `\\`). Two globs whose prefixes differ within their common
 * length therefore match no common path: a cheap exact answer for the common case of
 * disjoint folders (`src/x/**` vs `src/y/**`), before any automaton is searched.
 */
function literalPrefixesAgree(a: string, b: string): boolean {
  const pa = literalPrefix(a);
  const pb = literalPrefix(b);
  const n = Math.min(pa.length, pb.length);
  return pa.slice(0, n) === pb.slice(0, n);
}

function literalPrefix(glob: string): string {
  const end = glob.search(/[*?[{\\]/);
  return end === -1 ? glob : glob.slice(0, end);
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
