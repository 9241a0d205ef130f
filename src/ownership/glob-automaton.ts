import { ANY_CHAR, NOT_DOT, ONLY_DOT, singleChar, someCharInAll, type CharSet } from './char-set.ts';
import type { GlobAlternative, GlobToken, ParsedGlob } from './glob-syntax.ts';

/**
 * A glob as a nondeterministic automaton over path characters, with `/` as its own symbol.
 * All brace alternatives share one start state. Immutable once built.
 */
export interface GlobAutomaton {
  readonly start: number;
  readonly accepting: readonly boolean[];
  readonly epsilon: readonly (readonly number[])[];
  readonly moves: readonly (readonly Move[])[];
}

/** `on` is a set of non-slash characters, or `'slash'` for the separator. */
export interface Move {
  readonly on: CharSet | 'slash';
  readonly to: number;
}

export function buildAutomaton(parsed: ParsedGlob): GlobAutomaton {
  const builder = new Builder();
  const start = builder.state();
  for (const alternative of parsed.alternatives) {
    builder.epsilon(start, builder.alternative(alternative));
  }
  return builder.finish(start);
}

class Builder {
  private readonly epsilons: number[][] = [];
  private readonly moveLists: Move[][] = [];
  private readonly accept: number[] = [];

  state(): number {
    this.epsilons.push([]);
    this.moveLists.push([]);
    return this.epsilons.length - 1;
  }

  epsilon(from: number, to: number): void {
    this.epsilons[from]!.push(to);
  }

  move(from: number, on: CharSet | 'slash', to: number): void {
    this.moveLists[from]!.push({ on, to });
  }

  /**
   * Segment `i` is entered from `boundary[i][0]` (nothing read yet: no `/` needed) or
   * `boundary[i][1]` (a segment was read: a `/` comes first); both lead to `segmentStart[i]`.
   * A `**` may also be skipped (epsilon to the next boundary, keeping the flag), or read one
   * non-empty segment and come back to its own `boundary[i][1]`. The path is accepted at
   * `boundary[n][1]`: the empty path is never a file.
   * Returns the entry state.
   */
  alternative(segments: GlobAlternative): number {
    const boundary = Array.from({ length: segments.length + 1 }, () => [this.state(), this.state()] as const);
    segments.forEach((segment, i) => {
      const [fresh, afterSegment] = boundary[i]!;
      const segmentStart = this.state();
      this.epsilon(fresh, segmentStart);
      this.move(afterSegment, 'slash', segmentStart);
      const next = boundary[i + 1]!;
      if (segment.kind === 'globstar') {
        this.epsilon(fresh, next[0]);
        this.epsilon(afterSegment, next[1]);
        const inside = this.state();
        this.move(segmentStart, ANY_CHAR, inside);
        this.move(inside, ANY_CHAR, inside);
        this.epsilon(inside, afterSegment);
      } else {
        const end = segment.tokens.reduce((from, token) => this.token(from, token), segmentStart);
        this.epsilon(end, next[1]);
      }
    });
    this.accept.push(boundary[segments.length]![1]);
    return boundary[0]![0];
  }

  /** Adds the token after `from`; returns the state reached after it. */
  private token(from: number, token: GlobToken): number {
    const to = this.state();
    if (token.kind === 'star') {
      this.epsilon(from, to);
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

  finish(start: number): GlobAutomaton {
    const accepting = this.epsilons.map(() => false);
    for (const s of this.accept) accepting[s] = true;
    return { start, accepting, epsilon: this.epsilons, moves: this.moveLists };
  }
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
 * Whether some relative file path is accepted by both automata: a breadth-first search of
 * the product automaton (a × b × segment tracker) for a reachable accepting triple.
 * Cost: O(|a| · |b| · moves) at worst; both automata are small for real globs.
 */
export function automataIntersect(a: GlobAutomaton, b: GlobAutomaton): boolean {
  const sizeB = b.accepting.length;
  const key = (qa: number, qb: number, seg: Segment): number => (qa * sizeB + qb) * SEGMENT_STATES + seg;
  const seen = new Uint8Array(a.accepting.length * sizeB * SEGMENT_STATES);
  const queue: number[] = [];
  const visit = (qa: number, qb: number, seg: Segment): void => {
    const k = key(qa, qb, seg);
    if (seen[k] === 0) {
      seen[k] = 1;
      queue.push(k);
    }
  };
  visit(a.start, b.start, Segment.Empty);
  for (let head = 0; head < queue.length; head++) {
    const k = queue[head]!;
    const seg = (k % SEGMENT_STATES) as Segment;
    const pair = (k - seg) / SEGMENT_STATES;
    const qb = pair % sizeB;
    const qa = (pair - qb) / sizeB;
    if (a.accepting[qa] && b.accepting[qb] && seg === Segment.Named) return true;
    for (const ta of a.epsilon[qa]!) visit(ta, qb, seg);
    for (const tb of b.epsilon[qb]!) visit(qa, tb, seg);
    for (const ma of a.moves[qa]!) {
      for (const mb of b.moves[qb]!) {
        if (ma.on === 'slash' || mb.on === 'slash') {
          if (ma.on === mb.on && seg === Segment.Named) visit(ma.to, mb.to, Segment.Empty);
          continue;
        }
        for (const [next, constraint] of segmentSteps(seg)) {
          if (someCharInAll([ma.on, mb.on, constraint])) visit(ma.to, mb.to, next);
        }
      }
    }
  }
  return false;
}

/** The segment states reachable by reading one more character, and which characters lead there. */
function segmentSteps(seg: Segment): ReadonlyArray<readonly [Segment, CharSet]> {
  switch (seg) {
    case Segment.Empty:
      return [[Segment.OneDot, ONLY_DOT], [Segment.Named, NOT_DOT]];
    case Segment.OneDot:
      return [[Segment.TwoDots, ONLY_DOT], [Segment.Named, NOT_DOT]];
    default:
      return [[Segment.Named, ANY_CHAR]];
  }
}
