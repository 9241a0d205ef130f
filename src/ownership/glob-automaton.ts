import { ANY_CHAR, NOT_DOT, ONLY_DOT, SLASH, pickChar, singleChar, someCharInAll, type CharSet } from './char-set.ts';
import type { GlobNode, GlobPart, GlobToken, ParsedGlob } from './glob-syntax.ts';

/**
 * A glob as a nondeterministic automaton over path characters, with `/` as its own symbol.
 * Immutable once built.
 */
export interface GlobAutomaton {
  readonly start: number;
  readonly accepting: readonly boolean[];
  /** No epsilon moves: every move reads a character or a `/`. */
  readonly moves: readonly (readonly Move[])[];
}

/** `on`: the character must belong to every listed set (never `/`); or `'slash'`, the separator. */
export interface Move {
  readonly on: readonly CharSet[] | 'slash';
  readonly to: number;
}

export function buildAutomaton(parsed: ParsedGlob): GlobAutomaton {
  const builder = new Builder();
  const start = builder.state();
  builder.epsilon(start, builder.alternative(parsed.parts));
  // picomatch's isMatch answers true when the path is the glob's own text, before trying its
  // regex: `{a,b}` matches the file named "{a,b}". Such a file could be changed under the
  // claim, so it is part of what the glob covers.
  builder.epsilon(start, builder.alternative(globText(parsed.glob)));
  return withoutEpsilons(resolveGuards(builder, start));
}

/** The glob's text read as a plain path, every character literal. */
function globText(glob: string): GlobPart[] {
  return glob.split('/').map((segment) => {
    const nodes: GlobToken[] = [];
    for (let i = 0; i < segment.length; i++) nodes.push({ kind: 'char', set: singleChar(segment[i]!) });
    return { kind: 'pattern', nodes };
  });
}

/** The automaton before guards are resolved: epsilon edges may be guards. */
class Builder {
  readonly epsilons: Array<Array<{ to: number; guard: boolean }>> = [];
  readonly moveLists: Array<Array<{ on: CharSet | 'slash'; to: number }>> = [];
  readonly accept = new Set<number>();

  state(): number {
    this.epsilons.push([]);
    this.moveLists.push([]);
    return this.epsilons.length - 1;
  }

  epsilon(from: number, to: number, guard = false): void {
    this.epsilons[from]!.push({ to, guard });
  }

  move(from: number, on: CharSet | 'slash', to: number): void {
    this.moveLists[from]!.push({ on, to });
  }

  /**
   * Segment `i` is entered from `boundary[i][0]` (nothing read yet: no `/` needed) or
   * `boundary[i][1]` (a segment was read: a `/` comes first); both lead to `segmentStart[i]`.
   * A `**` reads a non-empty segment, then may go on to the next boundary or come back to its
   * own `boundary[i][1]` for another; unless it needs a segment, it may also be skipped
   * (epsilon to the next boundary, keeping the flag). The path is accepted at
   * `boundary[n][1]`: the empty path is never a file.
   * Returns the entry state.
   */
  alternative(segments: readonly GlobPart[]): number {
    const boundary = Array.from({ length: segments.length + 1 }, () => [this.state(), this.state()] as const);
    segments.forEach((segment, i) => {
      const [fresh, afterSegment] = boundary[i]!;
      const segmentStart = this.state();
      this.epsilon(fresh, segmentStart);
      this.move(afterSegment, 'slash', segmentStart);
      const next = boundary[i + 1]!;
      if (segment.kind === 'globstar') {
        if (segment.minSegments === 0) {
          this.epsilon(fresh, next[0]);
          this.epsilon(afterSegment, next[1]);
        }
        const inside = this.state();
        this.move(segmentStart, ANY_CHAR, inside);
        this.move(inside, ANY_CHAR, inside);
        this.epsilon(inside, afterSegment);
        this.epsilon(inside, next[1]);
      } else {
        this.epsilon(this.sequence(segmentStart, segment.nodes), next[1]);
      }
    });
    const accept = boundary[segments.length]![1];
    this.accept.add(accept);
    segments.forEach((segment, i) => {
      if (segment.kind === 'globstar' && emptyAfterMiddleGlobstar(segments, i)) this.epsilon(boundary[i]![1], accept);
    });
    return boundary[0]![0];
  }

  /** Adds the nodes after `from`; returns the state reached after them. */
  private sequence(from: number, nodes: readonly GlobNode[]): number {
    let at = from;
    for (const node of nodes) {
      if (node.kind === 'slash') {
        const to = this.state();
        this.move(at, 'slash', to);
        at = to;
      } else if (node.kind === 'braces') {
        const join = this.state();
        for (const option of node.options) {
          const entry = this.state();
          this.epsilon(at, entry);
          this.epsilon(this.sequence(entry, option), join);
        }
        at = join;
      } else {
        at = this.token(at, node);
      }
    }
    return at;
  }

  /** Adds the token after `from`; returns the state reached after it. */
  private token(from: number, token: GlobToken): number {
    const to = this.state();
    if (token.kind === 'star') {
      this.epsilon(from, to, token.guarded);
      this.move(to, ANY_CHAR, to);
      return to;
    }
    this.move(from, token.set, to);
    if (token.literal !== undefined) {
      let at = from;
      for (let k = 0; k < token.literal.length; k++) {
        const next = k === token.literal.length - 1 ? to : this.state();
        this.move(at, singleChar(token.literal[k]!), next);
        at = next;
      }
    }
    return to;
  }
}

/**
 * picomatch compiles a middle `X/**\/Y` to `X(?:\/G\/|\/|$)Y`: the path may also end right
 * after `X` when the regex of `Y` can match nothing at all. A star can, unless it follows a
 * `/` (picomatch adds `(?=.)`) or is guarded; a `/` can only vanish inside a later `**`'s own
 * `$` alternative (a middle one, or a trailing one that is optional).
 */
function emptyAfterMiddleGlobstar(segments: readonly GlobPart[], i: number): boolean {
  const last = segments.length - 1;
  if (i === 0 || i === last) return false;
  const canBeEmpty = (k: number): boolean => {
    const segment = segments[k]!;
    return segment.kind === 'pattern' && nodesCanBeEmpty(segment.nodes);
  };
  for (let k = i + 1; ; k += 2) {
    if (!canBeEmpty(k)) return false;
    if (k === last) return true;
    const next = segments[k + 1]!;
    if (next.kind !== 'globstar' || next.minSegments === 1) return false;
    if (k + 1 === last) return true;
  }
}

/** Whether picomatch's regex for these nodes can match the empty string (for some choice of braces). */
function nodesCanBeEmpty(nodes: readonly GlobNode[]): boolean {
  return nodes.every((node) => {
    switch (node.kind) {
      case 'star':
        return !node.guarded && !node.afterSlash;
      case 'braces':
        return node.options.some(nodesCanBeEmpty);
      default:
        return false;
    }
  });
}

/**
 * What a guarded star still requires of the rest of its segment: nothing (`Clear`), at least
 * one character (`Empty`: nothing read since the guard), or not just this `.` (`Dot`).
 */
const enum Guard {
  Clear = 0,
  Empty = 1,
  Dot = 2,
}

/**
 * Removes guard edges by pairing each state with a guard status: a character read moves the
 * status towards `Clear`, a guard edge resets it to `Empty`, and a `/` or acceptance needs
 * `Clear`. Only reachable pairs become states.
 */
function resolveGuards(builder: Builder, start: number): { start: number; accepting: boolean[]; epsilon: number[][]; moves: Move[][] } {
  const ids = new Map<number, number>();
  const pairs: number[] = [];
  const id = (q: number, g: Guard): number => {
    const key = q * 3 + g;
    let found = ids.get(key);
    if (found === undefined) {
      found = pairs.length;
      ids.set(key, found);
      pairs.push(key);
    }
    return found;
  };
  const epsilon: number[][] = [];
  const moves: Move[][] = [];
  const accepting: boolean[] = [];
  id(start, Guard.Clear);
  for (let next = 0; next < pairs.length; next++) {
    const q = Math.floor(pairs[next]! / 3);
    const g = (pairs[next]! % 3) as Guard;
    epsilon.push(builder.epsilons[q]!.map((e) => id(e.to, e.guard ? Guard.Empty : g)));
    const out: Move[] = [];
    for (const m of builder.moveLists[q]!) {
      if (m.on === 'slash') {
        if (g === Guard.Clear) out.push({ on: 'slash', to: id(m.to, Guard.Clear) });
      } else if (g === Guard.Empty) {
        out.push({ on: [m.on, ONLY_DOT], to: id(m.to, Guard.Dot) });
        out.push({ on: [m.on, NOT_DOT], to: id(m.to, Guard.Clear) });
      } else {
        out.push({ on: [m.on], to: id(m.to, Guard.Clear) });
      }
    }
    moves.push(out);
    accepting.push(g === Guard.Clear && builder.accept.has(q));
  }
  return { start: 0, accepting, epsilon, moves };
}

/**
 * The same language without epsilon moves: each state takes the moves and acceptance of its
 * epsilon closure, and only states reachable by real moves are kept. Fewer states for the
 * product search to visit.
 */
function withoutEpsilons(nfa: { start: number; accepting: boolean[]; epsilon: number[][]; moves: Move[][] }): GlobAutomaton {
  const closure = (q: number): number[] => {
    const seen = new Set([q]);
    const stack = [q];
    while (stack.length > 0) {
      for (const t of nfa.epsilon[stack.pop()!]!) {
        if (!seen.has(t)) {
          seen.add(t);
          stack.push(t);
        }
      }
    }
    return [...seen];
  };
  const ids = new Map<number, number>();
  const order: number[] = [];
  const id = (q: number): number => {
    let found = ids.get(q);
    if (found === undefined) {
      found = order.length;
      ids.set(q, found);
      order.push(q);
    }
    return found;
  };
  const moves: Move[][] = [];
  const accepting: boolean[] = [];
  id(nfa.start);
  for (let next = 0; next < order.length; next++) {
    const reach = closure(order[next]!);
    accepting.push(reach.some((q) => nfa.accepting[q]));
    const out: Move[] = [];
    const added = new Map<Move['on'], Set<number>>();
    for (const q of reach) {
      for (const m of nfa.moves[q]!) {
        const targets = added.get(m.on) ?? new Set<number>();
        added.set(m.on, targets);
        const to = id(m.to);
        if (!targets.has(to)) {
          targets.add(to);
          out.push({ on: m.on, to });
        }
      }
    }
    moves.push(out);
  }
  return { start: 0, accepting, moves };
}

/**
 * Where the current path segment stands, so that a witness path is a real relative file path:
 * no empty segment, no `.` or `..` segment (picomatch never matches those, and git never
 * stores them).
 */
const enum Segment {
  Empty = 0,
  OneDot = 1,
  TwoDots = 2,
  Named = 3,
}
const SEGMENT_STATES = 4;

/**
 * A relative file path accepted by both automata, or `undefined` if there is none: a
 * breadth-first search of the product automaton (a × b × segment tracker) for a reachable
 * accepting triple, then the path read back along the search tree (characters chosen
 * readable where possible). Cost: O(|a| · |b| · moves) at worst; real globs are small.
 */
export function commonPath(a: GlobAutomaton, b: GlobAutomaton): string | undefined {
  const sizeB = b.accepting.length;
  const key = (qa: number, qb: number, seg: Segment): number => (qa * sizeB + qb) * SEGMENT_STATES + seg;
  const size = a.accepting.length * sizeB * SEGMENT_STATES;
  /** For each reached triple: the triple it was reached from (-1: none yet), and by what. */
  const parent = new Int32Array(size).fill(-1);
  const via: Array<readonly CharSet[] | 'slash' | undefined> = [];
  const startKey = key(a.start, b.start, Segment.Empty);
  const queue: number[] = [startKey];
  parent[startKey] = startKey;
  const visit = (from: number, qa: number, qb: number, seg: Segment, by?: readonly CharSet[] | 'slash'): void => {
    const k = key(qa, qb, seg);
    if (parent[k] === -1) {
      parent[k] = from;
      via[k] = by;
      queue.push(k);
    }
  };
  for (let head = 0; head < queue.length; head++) {
    const k = queue[head]!;
    const seg = (k % SEGMENT_STATES) as Segment;
    const pair = (k - seg) / SEGMENT_STATES;
    const qb = pair % sizeB;
    const qa = (pair - qb) / sizeB;
    if (a.accepting[qa] && b.accepting[qb] && seg === Segment.Named) return readBack(k, parent, via);
    for (const ma of a.moves[qa]!) {
      for (const mb of b.moves[qb]!) {
        if (ma.on === 'slash' || mb.on === 'slash') {
          if (ma.on === mb.on && seg === Segment.Named) visit(k, ma.to, mb.to, Segment.Empty, 'slash');
          continue;
        }
        for (const [next, constraint] of SEGMENT_STEPS[seg]!) {
          if (someCharInAll(ma.on, mb.on, constraint)) visit(k, ma.to, mb.to, next, [...ma.on, ...mb.on, constraint]);
        }
      }
    }
  }
  return undefined;
}

function readBack(end: number, parent: Int32Array, via: ReadonlyArray<readonly CharSet[] | 'slash' | undefined>): string {
  const codes: number[] = [];
  for (let k = end; parent[k] !== k; k = parent[k]!) {
    const by = via[k];
    if (by === 'slash') codes.push(SLASH);
    else if (by !== undefined) codes.push(pickChar(by)!);
  }
  return String.fromCharCode(...codes.reverse());
}

/** Whether some relative file path is accepted by both automata. */
export function automataIntersect(a: GlobAutomaton, b: GlobAutomaton): boolean {
  return commonPath(a, b) !== undefined;
}

/** For each segment state: the states reachable by reading one more character, and which characters lead there. */
const SEGMENT_STEPS: ReadonlyArray<ReadonlyArray<readonly [Segment, CharSet]>> = [
  /* Empty */ [[Segment.OneDot, ONLY_DOT], [Segment.Named, NOT_DOT]],
  /* OneDot */ [[Segment.TwoDots, ONLY_DOT], [Segment.Named, NOT_DOT]],
  /* TwoDots */ [[Segment.Named, ANY_CHAR]],
  /* Named */ [[Segment.Named, ANY_CHAR]],
];
