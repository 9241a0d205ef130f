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
  const inside = set.ranges.some(([lo, hi]) => code >= lo && code <= hi);
  return set.negated ? !inside : inside;
}

/**
 * Whether some character other than `/` belongs to every set. Exact: the characters in the
 * intersection form intervals, and the lowest member of each interval is 0 or one of the
 * sets' range boundaries (`lo`, or `hi + 1`), so testing those candidates is enough.
 */
export function someCharInAll(sets: readonly CharSet[]): boolean {
  const all = [...sets, NOT_SLASH];
  const candidates = new Set<number>([0]);
  for (const set of all) {
    for (const [lo, hi] of set.ranges) {
      candidates.add(lo);
      if (hi < MAX_CODE_UNIT) candidates.add(hi + 1);
    }
  }
  for (const code of candidates) {
    if (all.every((set) => contains(set, code))) return true;
  }
  return false;
}
