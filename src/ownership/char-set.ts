/**
 * Sets of path characters, as the glob automata see them.
 *
 * A character is one UTF-16 code unit, because that is what picomatch's regular expressions
 * (compiled without the `u` flag) consume: `?` matches one code unit, not one code point.
 */
export const MAX_CODE_UNIT = 0xffff;
export const SLASH = '/'.charCodeAt(0);
export const DOT = '.'.charCodeAt(0);

/** Inclusive range of code units. */
export type CodeRange = readonly [lo: number, hi: number];

/** `ranges` as listed, or (when `negated`) every code unit outside them. */
export interface CharSet {
  readonly negated: boolean;
  readonly ranges: readonly CodeRange[];
}

export function charSet(ranges: readonly CodeRange[], negated = false): CharSet {
  return { negated, ranges };
}

export function singleChar(char: string): CharSet {
  const code = char.charCodeAt(0);
  return charSet([[code, code]]);
}

/** Any character (the slash is excluded wherever a set is used, see `someCharInAll`). */
export const ANY_CHAR: CharSet = charSet([], true);
export const ONLY_DOT: CharSet = charSet([[DOT, DOT]]);
export const NOT_DOT: CharSet = charSet([[DOT, DOT]], true);
const NOT_SLASH: CharSet = charSet([[SLASH, SLASH]], true);

export function contains(set: CharSet, code: number): boolean {
  let inside = false;
  for (const [lo, hi] of set.ranges) {
    if (code >= lo && code <= hi) {
      inside = true;
      break;
    }
  }
  return set.negated ? !inside : inside;
}

/** Characters tried first when a path must be shown to a person. */
const READABLE = [...'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ._-'].map((c) => c.charCodeAt(0));

/** A character other than `/` that belongs to every set, readable if possible; `undefined` if none. */
export function pickChar(sets: readonly CharSet[]): number | undefined {
  const all = [...sets, NOT_SLASH];
  const fits = (code: number): boolean => all.every((set) => contains(set, code));
  return READABLE.find(fits) ?? boundaryCandidates(all).find(fits);
}

/**
 * Whether some character other than `/` belongs to every set of `a`, every set of `b` and
 * `c`. Exact: the characters in the intersection form intervals, and the lowest member of
 * each interval is 0 or one of the sets' range boundaries (`lo`, or `hi + 1`), so testing
 * those candidates is enough. Allocation-free: it runs in the product search's inner loop.
 */
export function someCharInAll(a: readonly CharSet[], b: readonly CharSet[], c: CharSet): boolean {
  // Plain loops, no closures: this is the product search's inner loop.
  if (fitsAll(0, a, b, c) || fitsAll(SLASH + 1, a, b, c)) return true;
  for (const set of a) if (boundaryFits(set, a, b, c)) return true;
  for (const set of b) if (boundaryFits(set, a, b, c)) return true;
  return boundaryFits(c, a, b, c);
}

function boundaryFits(set: CharSet, a: readonly CharSet[], b: readonly CharSet[], c: CharSet): boolean {
  for (const [lo, hi] of set.ranges) {
    if (fitsAll(lo, a, b, c) || (hi < MAX_CODE_UNIT && fitsAll(hi + 1, a, b, c))) return true;
  }
  return false;
}

function fitsAll(code: number, a: readonly CharSet[], b: readonly CharSet[], c: CharSet): boolean {
  if (code === SLASH || !contains(c, code)) return false;
  for (const set of a) if (!contains(set, code)) return false;
  for (const set of b) if (!contains(set, code)) return false;
  return true;
}

function boundaryCandidates(sets: readonly CharSet[]): number[] {
  const candidates = new Set<number>([0]);
  for (const set of sets) {
    for (const [lo, hi] of set.ranges) {
      candidates.add(lo);
      if (hi < MAX_CODE_UNIT) candidates.add(hi + 1);
    }
  }
  return [...candidates];
}
