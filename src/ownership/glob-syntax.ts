import { TerminalError } from '../errors.ts';
import { ANY_CHAR, SLASH, charSet, singleChar, type CharSet, type CodeRange } from './char-set.ts';

/**
 * The glob dialect of ownership claims, parsed.
 *
 * Accepted: literal characters, `?`, `*` (within one segment), `**` as a whole path segment,
 * classes `[abc]` `[a-z]` `[!a]` `[^a]`, and brace alternatives `{a,b}` (nested allowed).
 * Meaning: exactly what picomatch matches with `GLOB_OPTIONS` (see `glob-match.ts`) among
 * relative file paths, down to its parse-time quirks (each is noted where it is modelled), so
 * that a claim covers exactly the files a picomatch check would let its task change.
 * Everything else (extglobs, escapes, quotes, negation, brace ranges, absolute paths, empty,
 * `.` or `..` segments, unbalanced brackets or braces) is refused with a `TerminalError`
 * whose code is `invalid_glob` and whose details name the glob and the problem.
 */

/** One step inside a path segment. */
export type GlobToken =
  /**
   * One character of `set`. `literal` is picomatch's second reading of a class without
   * regex-special characters: `[ab]` also matches the text `[ab]` itself.
   */
  | { readonly kind: 'char'; readonly set: CharSet; readonly literal?: string }
  /**
   * Zero or more characters, never `/`. `guarded`: picomatch's `.*` inside braces, where the
   * rest of the segment from the star on can be neither empty nor `.` (`x{.*,b}` does not
   * match `x.`). `afterSlash`: right after a `/`, where picomatch requires one more
   * character of the path (see `emptyAfterMiddleGlobstar` in glob-automaton.ts).
   */
  | { readonly kind: 'star'; readonly guarded: boolean; readonly afterSlash: boolean };

/** What a glob is made of between top-level slashes. */
export type GlobNode =
  | GlobToken
  /** A `/` inside braces, as in `{src/a,lib}`. */
  | { readonly kind: 'slash' }
  | { readonly kind: 'braces'; readonly options: readonly (readonly GlobNode[])[] };

/** The glob split at its top-level slashes. */
export type GlobPart =
  /**
   * `**`: `minSegments` (0, or 1 for picomatch's trailing `/**` after a `*`, see
   * `trailingGlobstarNeedsSegment`) or more whole path segments.
   */
  | { readonly kind: 'globstar'; readonly minSegments: 0 | 1 }
  /** One path segment, or several when its braces hold slashes. */
  | { readonly kind: 'pattern'; readonly nodes: readonly GlobNode[] };

export interface ParsedGlob {
  readonly glob: string;
  readonly parts: readonly GlobPart[];
}

export type GlobProblem =
  | 'not_a_string'
  | 'empty'
  | 'too_long'
  | 'absolute'
  | 'empty_segment'
  | 'dot_segment'
  | 'extglob'
  | 'unsupported_syntax'
  | 'bad_globstar'
  | 'unbalanced_bracket'
  | 'bad_class'
  | 'unbalanced_brace'
  | 'bad_brace'
  | 'too_many_alternatives';

export const MAX_GLOB_LENGTH = 1024;
export const MAX_ALTERNATIVES = 256;
const MAX_BRACE_DEPTH = 8;
const FASTPATH_NON_EMPTY_LAST_STAR = new Set(['*.*', '**/*.*']);
/** picomatch's REGEX_SPECIAL_CHARS: a class containing none of them also matches itself literally. */
const REGEX_SPECIAL = /[-*+?.^${}(|)[\]]/;

export function invalidGlob(glob: unknown, problem: GlobProblem, message: string): TerminalError {
  return new TerminalError('invalid_glob', `invalid glob ${JSON.stringify(glob)}: ${message}`, { glob, problem });
}

/**
 * Parses and checks a glob. A glob that passes matches at least one relative path: classes
 * never contain `/` and are never empty, and a segment that could only be `.` or `..`
 * (like `.`, `..`, `[.]`) is refused.
 */
export function parseGlob(glob: unknown): ParsedGlob {
  if (typeof glob !== 'string') throw invalidGlob(glob, 'not_a_string', 'a glob must be a string');
  if (glob.length === 0) throw invalidGlob(glob, 'empty', 'a glob cannot be empty');
  if (glob.length > MAX_GLOB_LENGTH) {
    throw invalidGlob(glob, 'too_long', `a glob is at most ${MAX_GLOB_LENGTH} characters long`);
  }
  if (glob.startsWith('/')) {
    throw invalidGlob(glob, 'absolute', 'globs are relative to the repository root; remove the leading "/"');
  }
  const nodes = new Parser(glob).parseAll();
  for (const flat of expand(glob, nodes)) checkSegments(glob, flat);
  return { glob, parts: splitParts(nodes) };
}

type Node =
  | GlobToken
  | { readonly kind: 'slash' }
  | { readonly kind: 'globstar'; readonly minSegments: 0 | 1 }
  | { readonly kind: 'braces'; readonly options: readonly Node[][] };

/** Splits at top-level slashes; a globstar is always a whole part (checked by the parser). */
function splitParts(nodes: readonly Node[]): GlobPart[] {
  const parts: GlobPart[] = [];
  let current: GlobNode[] = [];
  for (const node of [...nodes, { kind: 'slash' } as const]) {
    if (node.kind === 'globstar') parts.push(node);
    else if (node.kind !== 'slash') current.push(node as GlobNode);
    else if (current.length > 0) {
      parts.push({ kind: 'pattern', nodes: current });
      current = [];
    }
  }
  return parts;
}

type FlatNode = Exclude<Node, { kind: 'braces' }>;

class Parser {
  private pos = 0;
  private braceDepth = 0;

  constructor(private readonly glob: string) {}

  parseAll(): Node[] {
    const nodes = this.parseSequence(); // outside braces it reads to the end or throws
    if (FASTPATH_NON_EMPTY_LAST_STAR.has(this.glob)) {
      // picomatch's fast path for these exact globs puts `(?=.)` after the dot: `*.*` does not
      // match `a.`; the last star reads at least one character.
      nodes.splice(nodes.length - 1, 0, { kind: 'char', set: ANY_CHAR });
    }
    // picomatch reads consecutive `**` segments as one.
    for (let i = 2; i < nodes.length; ) {
      if (nodes[i]!.kind === 'globstar' && nodes[i - 2]!.kind === 'globstar') nodes.splice(i - 1, 2);
      else i++;
    }
    if (trailingGlobstarNeedsSegment(this.glob)) nodes[nodes.length - 1] = { kind: 'globstar', minSegments: 1 };
    return nodes;
  }

  private fail(problem: GlobProblem, message: string): never {
    throw invalidGlob(this.glob, problem, message);
  }

  /** Reads up to the end, or (inside braces) up to the `,` or `}` that ends an alternative. */
  private parseSequence(): Node[] {
    const { glob } = this;
    const nodes: Node[] = [];
    while (this.pos < glob.length) {
      const c = glob[this.pos]!;
      if (this.braceDepth > 0 && (c === ',' || c === '}')) break;
      switch (c) {
        case '*':
          nodes.push(this.parseStars());
          break;
        case '?':
          this.pos++;
          nodes.push({ kind: 'char', set: ANY_CHAR });
          break;
        case '[':
          nodes.push(this.parseClass());
          break;
        case ']':
          this.fail('unbalanced_bracket', `"]" at position ${this.pos} has no opening "["`);
        case '{':
          nodes.push(this.parseBraces());
          break;
        case '}':
          this.fail('unbalanced_brace', `"}" at position ${this.pos} has no opening "{"`);
        case '/':
          this.pos++;
          nodes.push({ kind: 'slash' });
          break;
        case '(':
          if (this.pos > 0 && '?*+@!'.includes(glob[this.pos - 1]!)) {
            this.fail('extglob', `extglobs such as "${glob[this.pos - 1]}(...)" are not supported; use braces {a,b}`);
          }
          this.fail('unsupported_syntax', 'parentheses are not supported');
        case ')':
        case '|':
          this.fail('unsupported_syntax', `"${c}" is not supported; use braces {a,b} for alternatives`);
        case '!':
          if (glob[this.pos + 1] === '(') this.fail('extglob', 'extglobs such as "!(...)" are not supported');
          this.fail('unsupported_syntax', 'negation ("!") is not supported outside a class like [!a]');
        case '\\':
          this.fail('unsupported_syntax', 'backslash escapes are not supported');
        case '"':
          this.fail('unsupported_syntax', 'quotes are not supported');
        case '+':
          // After a class or braces picomatch leaves `+` unescaped: a regex quantifier.
          if (this.pos > 0 && ']}'.includes(glob[this.pos - 1]!)) {
            this.fail('unsupported_syntax', `"+" right after "${glob[this.pos - 1]}" repeats it in picomatch; not supported`);
          }
          this.pos++;
          nodes.push({ kind: 'char', set: singleChar(c) });
          break;
        default:
          this.pos++;
          nodes.push({ kind: 'char', set: singleChar(c) });
      }
    }
    return nodes;
  }

  private parseStars(): Node {
    const { glob } = this;
    const start = this.pos;
    while (glob[this.pos] === '*') this.pos++;
    const run = this.pos - start;
    // picomatch reads a `.` inside braces as a "dot" token, and a star right after one gets
    // a look-ahead refusing an empty or "." rest of segment.
    if (run === 1) {
      return { kind: 'star', guarded: this.braceDepth > 0 && glob[start - 1] === '.', afterSlash: glob[start - 1] === '/' };
    }
    const wholeSegment = (start === 0 || glob[start - 1] === '/') && (this.pos === glob.length || glob[this.pos] === '/');
    if (run === 2 && wholeSegment && this.braceDepth === 0) return { kind: 'globstar', minSegments: 0 };
    if (this.braceDepth > 0) this.fail('bad_globstar', '"**" inside braces is not supported');
    this.fail('bad_globstar', `"${'*'.repeat(run)}" at position ${start}: "**" must be a whole path segment (use "*" within a segment)`);
  }

  private parseClass(): Node {
    const { glob } = this;
    const open = this.pos;
    let i = open + 1;
    const negated = glob[i] === '!' || glob[i] === '^';
    if (negated) i++;
    const membersStart = i;
    if (glob[i] === ']') this.fail('bad_class', `the class at position ${open} is empty or starts with "]"`);
    const ranges: CodeRange[] = [];
    for (;;) {
      if (i >= glob.length) this.fail('unbalanced_bracket', `"[" at position ${open} has no closing "]"`);
      const c = glob[i]!;
      if (c === ']') break;
      this.checkClassMember(c, open);
      if (glob[i + 1] === '-' && i + 2 < glob.length && glob[i + 2] !== ']') {
        const end = glob[i + 2]!;
        this.checkClassMember(end, open);
        const lo = c.charCodeAt(0);
        const hi = end.charCodeAt(0);
        if (lo > hi) this.fail('bad_class', `the range "${c}-${end}" in the class at position ${open} is reversed`);
        if (lo <= SLASH && SLASH <= hi) {
          this.fail('bad_class', `the range "${c}-${end}" in the class at position ${open} includes "/"`);
        }
        ranges.push([lo, hi]);
        i += 3;
        if (glob[i] === '-' && glob[i + 1] !== ']') {
          this.fail('bad_class', `the class at position ${open} has a "-" right after a range`);
        }
      } else {
        const code = c.charCodeAt(0);
        ranges.push([code, code]);
        i++;
      }
    }
    const members = glob.slice(membersStart, i);
    this.pos = i + 1;
    const literal = !negated && !REGEX_SPECIAL.test(members) ? glob.slice(open, i + 1) : undefined;
    return literal === undefined
      ? { kind: 'char', set: charSet(ranges, negated) }
      : { kind: 'char', set: charSet(ranges, negated), literal };
  }

  private checkClassMember(c: string, open: number): void {
    if (c === '/') this.fail('bad_class', `the class at position ${open} contains "/"; a class matches one character of a segment`);
    if (c === '\\') this.fail('bad_class', `the class at position ${open} contains a backslash; escapes are not supported`);
    if (c === '[') this.fail('bad_class', `the class at position ${open} contains "["; POSIX classes like [[:alpha:]] are not supported`);
  }

  private parseBraces(): Node {
    const { glob } = this;
    const open = this.pos;
    if (this.braceDepth >= MAX_BRACE_DEPTH) this.fail('bad_brace', `braces nest deeper than ${MAX_BRACE_DEPTH}`);
    this.pos++;
    this.braceDepth++;
    const options: Node[][] = [];
    for (;;) {
      options.push(this.parseSequence());
      if (this.pos >= glob.length) this.fail('unbalanced_brace', `"{" at position ${open} has no closing "}"`);
      const c = glob[this.pos++];
      if (c === '}') break;
    }
    this.braceDepth--;
    const text = glob.slice(open, this.pos);
    if (options.length < 2) this.fail('bad_brace', `"${text}" has no ","; braces list alternatives like {a,b}`);
    if (text.includes('..')) this.fail('bad_brace', `"${text}": ranges and ".." inside braces are not supported`);
    return { kind: 'braces', options };
  }
}

/**
 * picomatch makes a trailing `/**` optional (`a/**` matches `a`) unless the text before that
 * slash ends with `*`: `*\/**` and `a*\/**` need at least one more segment. Consecutive
 * trailing `/**` count as one, and a glob made only of `**` segments is plain `**`.
 */
function trailingGlobstarNeedsSegment(glob: string): boolean {
  const match = /^(.*?)((?:\/\*\*)+)$/.exec(glob);
  return match !== null && match[1] !== '**' && match[1]!.endsWith('*');
}

/**
 * Brace expansion, innermost first, only to check every alternative's segments; the product
 * is bounded so a glob cannot explode.
 */
function expand(glob: string, nodes: readonly Node[]): FlatNode[][] {
  let results: FlatNode[][] = [[]];
  for (const node of nodes) {
    if (node.kind !== 'braces') {
      for (const r of results) r.push(node);
      continue;
    }
    const options = node.options.flatMap((option) => expand(glob, option));
    if (results.length * options.length > MAX_ALTERNATIVES) {
      throw invalidGlob(glob, 'too_many_alternatives', `its braces expand to more than ${MAX_ALTERNATIVES} alternatives`);
    }
    results = results.flatMap((r) => options.map((option) => [...r, ...option]));
  }
  return results;
}

function checkSegments(glob: string, flat: readonly FlatNode[]): void {
  if (flat.length === 0) throw invalidGlob(glob, 'empty', 'one of its brace alternatives makes it empty');
  if (flat[0]!.kind === 'slash') {
    throw invalidGlob(glob, 'absolute', 'one of its brace alternatives starts with "/"; globs are relative');
  }
  let current: GlobToken[] = [];
  let globstar = false;
  const close = (): void => {
    if (current.length === 0 && !globstar) {
      throw invalidGlob(glob, 'empty_segment', 'it has an empty path segment ("//" or a trailing "/"); use "dir/**" for a directory');
    }
    if (isDotSegment(current)) throw invalidGlob(glob, 'dot_segment', '"." and ".." segments are not allowed');
    current = [];
    globstar = false;
  };
  for (const node of flat) {
    if (node.kind === 'slash') close();
    else if (node.kind === 'globstar') globstar = true;
    else current.push(node);
  }
  close();
}

function isDotSegment(tokens: readonly GlobToken[]): boolean {
  return (
    tokens.length > 0 &&
    tokens.length <= 2 &&
    tokens.every((t) => t.kind === 'char' && t.literal === undefined && !t.set.negated && t.set.ranges.length === 1 && t.set.ranges[0]![0] === 0x2e && t.set.ranges[0]![1] === 0x2e)
  );
}
