import { TerminalError } from '../errors.ts';
import { ANY_CHAR, SLASH, charSet, singleChar, type CharSet, type CodeRange } from './char-set.ts';

/**
 * The glob dialect of ownership claims, parsed.
 *
 * Accepted: literal characters, `?`, `*` (within one segment), `**` as a whole path segment,
 * classes `[abc]` `[a-z]` `[!a]` `[^a]`, and brace alternatives `{a,b}` (nested allowed).
 * Meaning: picomatch with `GLOB_OPTIONS` (see `glob-match.ts`) on relative paths.
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
  /** Zero or more characters, never `/`. */
  | { readonly kind: 'star' };

export type GlobSegment =
  /** `**`: zero or more whole path segments. */
  | { readonly kind: 'globstar' }
  /** Exactly one path segment. */
  | { readonly kind: 'segment'; readonly tokens: readonly GlobToken[] };

/** A glob after brace expansion: one of these must match the whole path. */
export type GlobAlternative = readonly GlobSegment[];

export interface ParsedGlob {
  readonly glob: string;
  readonly alternatives: readonly GlobAlternative[];
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
  | 'too_many_alternatives'
  | 'matches_nothing';

export const MAX_GLOB_LENGTH = 1024;
export const MAX_ALTERNATIVES = 256;
const MAX_BRACE_DEPTH = 8;
/** picomatch's REGEX_SPECIAL_CHARS: a class containing none of them also matches itself literally. */
const REGEX_SPECIAL = /[-*+?.^${}(|)[\]]/;

export function invalidGlob(glob: unknown, problem: GlobProblem, message: string): TerminalError {
  return new TerminalError('invalid_glob', `invalid glob ${JSON.stringify(glob)}: ${message}`, { glob, problem });
}

/** Syntax only; whether the glob can match any path at all is checked by `validateGlob`. */
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
  const alternatives = expand(glob, nodes).map((flat) => toSegments(glob, flat));
  return { glob, alternatives };
}

type Node =
  | GlobToken
  | { readonly kind: 'slash' }
  | { readonly kind: 'globstar' }
  | { readonly kind: 'braces'; readonly options: readonly Node[][] };

type FlatNode = Exclude<Node, { kind: 'braces' }>;

class Parser {
  private pos = 0;
  private braceDepth = 0;

  constructor(private readonly glob: string) {}

  parseAll(): Node[] {
    const nodes = this.parseSequence();
    if (this.pos < this.glob.length) {
      // Only a `,` or `}` outside braces can stop the top-level sequence early.
      throw invalidGlob(this.glob, 'unbalanced_brace', `"}" at position ${this.pos} has no opening "{"`);
    }
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
    if (run === 1) return { kind: 'star' };
    const wholeSegment = (start === 0 || glob[start - 1] === '/') && (this.pos === glob.length || glob[this.pos] === '/');
    if (run === 2 && wholeSegment && this.braceDepth === 0) return { kind: 'globstar' };
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

/** Brace expansion, innermost first; the product is bounded so a glob cannot explode. */
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

function toSegments(glob: string, flat: readonly FlatNode[]): GlobAlternative {
  if (flat.length === 0) throw invalidGlob(glob, 'empty', 'one of its brace alternatives makes it empty');
  if (flat[0]!.kind === 'slash') {
    throw invalidGlob(glob, 'absolute', 'one of its brace alternatives starts with "/"; globs are relative');
  }
  const segments: GlobSegment[] = [];
  let current: FlatNode[] = [];
  const close = (): void => {
    if (current.length === 0) {
      throw invalidGlob(glob, 'empty_segment', 'it has an empty path segment ("//" or a trailing "/"); use "dir/**" for a directory');
    }
    if (current.length === 1 && current[0]!.kind === 'globstar') {
      segments.push({ kind: 'globstar' });
    } else {
      const tokens = current as GlobToken[]; // a globstar is always a whole segment (checked by the parser)
      if (isDotSegment(tokens)) throw invalidGlob(glob, 'dot_segment', '"." and ".." segments are not allowed');
      segments.push({ kind: 'segment', tokens });
    }
    current = [];
  };
  for (const node of flat) {
    if (node.kind === 'slash') close();
    else current.push(node);
  }
  close();
  return segments;
}

function isDotSegment(tokens: readonly GlobToken[]): boolean {
  return (
    tokens.length <= 2 &&
    tokens.every((t) => t.kind === 'char' && t.literal === undefined && !t.set.negated && t.set.ranges.length === 1 && t.set.ranges[0]![0] === 0x2e && t.set.ranges[0]![1] === 0x2e)
  );
}
