/**
 * Random globs and a brute-force reference for `globsIntersect`.
 *
 * Why brute force over a finite universe is exact here. Take two generated globs A and B,
 * and a path w that picomatch matches with both. picomatch matches a path if it *is* the glob
 * text, or if its regex matches; the texts of all generated globs are added to the universe,
 * which settles the first case. For the regex case, read A and B as sets of brace-free
 * alternatives and fix the pair (Ai, Bj) that matches w; let w be a shortest such path.
 *  1. Characters: every class, literal and negation of the dialect mentions only characters
 *     of `alphabet`; one member of `alphabet` (`other`) is mentioned by none. Replacing each
 *     character outside `alphabet` by `other` keeps both matches (no predicate tells them
 *     apart) and keeps w a valid path (`other` is not `.`).
 *  2. Depth: a segment of w read by a `**` in both Ai and Bj can be dropped (if w has another
 *     segment), unless one of them must read at least one segment (picomatch's trailing
 *     `*\/**`, at most one per glob). So depth(w) is real(Ai) when Ai has no `**`, real(Bj)
 *     when Bj has none, else at most real(Ai) + real(Bj) + (trailing `**` in Ai and Bj).
 *  3. Length: a character read by a `*` (or `**`) on both sides can be dropped unless the
 *     segment would become empty, `.` or `..` (length <= 3 before). So each segment of w is
 *     no longer than the width of a star-free segment reading it (on either side), else the
 *     sum of the non-star widths of both sides, else 1 (3 when `.` is in the alphabet).
 *     A class such as `[ab]` also matches its own text, so its width is that text's length.
 *     picomatch's `.*` inside braces refuses an empty or `.` rest of segment: dropping a
 *     character can break that only within the last two of the segment, so such segments get
 *     2 more. Its fast path for exactly `*.*` and `**\/*.*` makes the last star read one more.
 *  4. picomatch's parse-time quirks (trailing `*\/**`, `.*` in braces, `..` in braces being a
 *     range) are produced by the generator on purpose; the dialect refuses `..` in braces.
 * `witnessBound` computes these bounds; the tests only compare pairs whose bounds fit in the
 * enumerated universe, so for them the brute-force answer is the truth.
 */

export type GenNode =
  | { kind: 'lit'; char: string }
  | { kind: 'any' }
  | { kind: 'star'; guarded?: boolean }
  /** `width`: the most characters it can read (its own text's length if it matches that). */
  | { kind: 'class'; text: string; width: number }
  | { kind: 'slash' }
  | { kind: 'globstar' }
  | { kind: 'braces'; options: GenNode[][] };

type FlatNode = Exclude<GenNode, { kind: 'braces' }>;

export interface Dialect {
  name: string;
  /** Characters of universe paths; the last one is mentioned by no atom. */
  alphabet: string[];
  maxDepth: number;
  maxSegmentLength: number;
  /** Brace-free atoms to draw from. */
  atoms: FlatNode[];
  maxSegments: number;
  maxAtoms: number;
  globstarChance: number;
  braceChance: number;
  slashInBraceChance: number;
}

import type { Rng } from '../harness/seeded-random.ts';

export type { Rng };
/** mulberry32 (see there): seedable, good enough to spread test cases. */
export { seededRandom as rng } from '../harness/seeded-random.ts';

const pick = <T>(random: Rng, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const count = (random: Rng, max: number): number => 1 + Math.floor(random() * max);

export function randomGlob(random: Rng, d: Dialect): GenNode[] {
  const nodes: GenNode[] = [];
  const segments = count(random, d.maxSegments);
  for (let s = 0; s < segments; s++) {
    if (s > 0) nodes.push({ kind: 'slash' });
    if (random() < d.globstarChance) nodes.push({ kind: 'globstar' });
    else nodes.push(...randomSequence(random, d, 0, d.maxAtoms));
  }
  return nodes;
}

function randomSequence(random: Rng, d: Dialect, braceDepth: number, maxAtoms: number): GenNode[] {
  const out: GenNode[] = [];
  const n = count(random, maxAtoms);
  for (let i = 0; i < n; i++) {
    if (braceDepth < 2 && random() < d.braceChance) {
      const options = Array.from({ length: 1 + count(random, 2) }, () => randomOption(random, d, braceDepth + 1));
      out.push({ kind: 'braces', options });
      continue;
    }
    let atom = pick(random, d.atoms);
    // Two `*` side by side in the text would read as a misplaced `**`.
    while (atom.kind === 'star' && out.at(-1)?.kind === 'star') atom = pick(random, d.atoms);
    out.push(atom);
  }
  return out;
}

function randomOption(random: Rng, d: Dialect, braceDepth: number): GenNode[] {
  const option = randomSequence(random, d, braceDepth, 2);
  if (random() < d.slashInBraceChance) option.push({ kind: 'slash' }, ...randomSequence(random, d, braceDepth, 1));
  return option;
}

export function render(nodes: readonly GenNode[]): string {
  return nodes
    .map((n) => {
      switch (n.kind) {
        case 'lit':
          return n.char;
        case 'any':
          return '?';
        case 'star':
          return '*';
        case 'class':
          return n.text;
        case 'slash':
          return '/';
        case 'globstar':
          return '**';
        case 'braces':
          return `{${n.options.map(render).join(',')}}`;
      }
    })
    .join('');
}

/** Brace expansion of the generator's own tree (independent of the implementation's parser). */
function expand(nodes: readonly GenNode[]): FlatNode[][] {
  let results: FlatNode[][] = [[]];
  for (const n of nodes) {
    if (n.kind === 'braces') {
      const options = n.options.flatMap(expand);
      results = results.flatMap((r) => options.map((o) => [...r, ...o]));
    } else {
      results = results.map((r) => [...r, n]);
    }
  }
  return results;
}

export interface SegmentShape {
  globstar: boolean;
  hasStar: boolean;
  /** Most characters read by non-star tokens. */
  width: number;
  /** Literally `.` or `..`: the validator must refuse the glob. */
  dotOnly: boolean;
  /** Has a `*` right after a `.` inside braces (picomatch's look-ahead, see point 3). */
  guarded: boolean;
}

/** Each brace-free alternative of the glob, as segment shapes. */
export function shapes(nodes: readonly GenNode[]): SegmentShape[][] {
  // picomatch's fast path makes the last star of exactly these globs read one character.
  const fastPath = ['*.*', '**/*.*'].includes(render(nodes)) ? 1 : 0;
  return expand(markGuards(nodes, false)).map((flat) => {
    const segments: FlatNode[][] = [[]];
    for (const n of flat) {
      if (n.kind === 'slash') segments.push([]);
      else segments.at(-1)!.push(n);
    }
    return segments.map((seg, i) => ({
      globstar: seg.length === 1 && seg[0]!.kind === 'globstar',
      hasStar: seg.some((n) => n.kind === 'star'),
      width:
        seg.reduce((w, n) => w + (n.kind === 'class' ? n.width : n.kind === 'star' || n.kind === 'globstar' ? 0 : 1), 0) +
        (i === segments.length - 1 ? fastPath : 0),
      dotOnly: seg.length <= 2 && seg.every((n) => n.kind === 'lit' && n.char === '.'),
      guarded: seg.some((n) => n.kind === 'star' && n.guarded === true),
    }));
  });
}

/** Marks stars that follow a `.` inside braces. */
function markGuards(nodes: readonly GenNode[], inBraces: boolean): GenNode[] {
  return nodes.map((n, i) => {
    if (n.kind === 'braces') return { kind: 'braces', options: n.options.map((o) => markGuards(o, true)) };
    const prev = nodes[i - 1];
    if (n.kind === 'star' && inBraces && prev?.kind === 'lit' && prev.char === '.') return { kind: 'star', guarded: true };
    return n;
  });
}

/** Whether some braces of the glob contain `..`, which picomatch reads as a range. */
export function hasDotsInBraces(nodes: readonly GenNode[]): boolean {
  return nodes.some((n) => n.kind === 'braces' && (render([n]).includes('..') || n.options.some(hasDotsInBraces)));
}

/** Bounds on a shortest common witness of two brace-free alternatives (see the file comment). */
export function witnessBound(a: SegmentShape[], b: SegmentShape[], dots: boolean): { depth: number; segmentLength: number } {
  const real = (x: SegmentShape[]) => x.filter((s) => !s.globstar);
  const hasGlobstar = (x: SegmentShape[]) => x.some((s) => s.globstar);
  // picomatch's trailing `*\/**` needs one segment of its own: count one more per trailing `**`.
  const trailing = (x: SegmentShape[]) => (x.at(-1)!.globstar ? 1 : 0);
  const depth = !hasGlobstar(a)
    ? real(a).length
    : !hasGlobstar(b)
      ? real(b).length
      : Math.max(1, real(a).length + real(b).length + trailing(a) + trailing(b));
  const parts = (x: SegmentShape[]) => [...real(x), ...(hasGlobstar(x) ? [x.find((s) => s.globstar)!] : [])];
  let segmentLength = dots ? 3 : 1;
  for (const pa of parts(a)) {
    for (const pb of parts(b)) {
      if (pa.globstar && pb.globstar) continue;
      const starFree = (p: SegmentShape) => !p.globstar && !p.hasStar;
      const slack = pa.guarded || pb.guarded ? 2 : 0;
      const bound = slack + (starFree(pa) ? pa.width : starFree(pb) ? pb.width : pa.width + pb.width);
      segmentLength = Math.max(segmentLength, bound);
    }
  }
  return { depth, segmentLength };
}

/** Whether brute force over `d`'s universe is exact for this pair of globs. */
export function fitsUniverse(a: SegmentShape[][], b: SegmentShape[][], d: Dialect): boolean {
  const dots = d.alphabet.includes('.');
  return a.every((x) =>
    b.every((y) => {
      const bound = witnessBound(x, y, dots);
      return bound.depth <= d.maxDepth && bound.segmentLength <= d.maxSegmentLength;
    }),
  );
}

/** Every valid relative path over the alphabet within the dialect's depth and segment length. */
export function universe(d: Dialect): string[] {
  let words = [''];
  const segments: string[] = [];
  for (let len = 1; len <= d.maxSegmentLength; len++) {
    words = words.flatMap((w) => d.alphabet.map((c) => w + c));
    segments.push(...words.filter((w) => w !== '.' && w !== '..'));
  }
  let paths = segments;
  const all = [...segments];
  for (let depth = 2; depth <= d.maxDepth; depth++) {
    paths = paths.flatMap((p) => segments.map((s) => `${p}/${s}`));
    all.push(...paths);
  }
  return all;
}

/** A fixed-size set of universe indices. */
export class Bits {
  readonly words: Uint32Array;
  constructor(size: number) {
    this.words = new Uint32Array(Math.ceil(size / 32));
  }
  set(i: number): void {
    this.words[i >>> 5]! |= 1 << (i & 31);
  }
  firstCommon(other: Bits): number {
    for (let w = 0; w < this.words.length; w++) {
      const both = this.words[w]! & other.words[w]!;
      if (both !== 0) return w * 32 + (31 - Math.clz32(both & -both));
    }
    return -1;
  }
  isEmpty(): boolean {
    return this.words.every((w) => w === 0);
  }
}

/**
 * A random path the glob should match: braces pick an option, `*` and `**` read a few random
 * characters or segments, classes a random member (or, when they match it, their own text).
 * Returns `undefined` when the pick is not a valid relative path (empty or dot segments).
 */
export function instantiate(random: Rng, nodes: readonly GenNode[], alphabet: readonly string[], classMatches: (cls: string, s: string) => boolean): string | undefined {
  const word = (max: number) => Array.from({ length: Math.floor(random() * (max + 1)) }, () => pick(random, alphabet)).join('');
  const out: string[] = [];
  const walk = (seq: readonly GenNode[]): void => {
    for (const n of seq) {
      switch (n.kind) {
        case 'lit':
          out.push(n.char);
          break;
        case 'any':
          out.push(pick(random, alphabet));
          break;
        case 'star':
          out.push(word(3));
          break;
        case 'class': {
          const members = alphabet.filter((c) => classMatches(n.text, c));
          out.push(n.width > 1 && random() < 0.3 ? n.text : pick(random, members.length > 0 ? members : [n.text]));
          break;
        }
        case 'slash':
          out.push('/');
          break;
        case 'globstar': {
          const segments = Array.from({ length: Math.floor(random() * 3) }, () => word(2) || 'a');
          out.push(segments.join('/'));
          break;
        }
        case 'braces':
          walk(pick(random, n.options));
          break;
      }
    }
  };
  walk(nodes);
  const path = out.join('').replace(/\/+/g, '/').replace(/^\/|\/$/g, '');
  const valid = path !== '' && path.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
  return valid ? path : undefined;
}
