import { ConflictError, TerminalError } from '../errors.ts';
import { claimsConflict, validateGlob } from './glob-intersection.ts';

/** A task's claim: the globs of every file it may change. */
export interface Claim {
  taskId: string;
  globs: string[];
}

/** The serialized book: holders in grant order, waiters in arrival order. Plain JSON. */
export interface ClaimBookState {
  holders: Claim[];
  waiters: Claim[];
}

/**
 * `blockedBy`: the tasks this one waits for, conflicting holders first (grant order), then
 * conflicting earlier waiters (queue order): a waiter can be blocked by a waiter alone.
 */
export type ClaimDecision = { granted: true } | { granted: false; blockedBy: string[] };

/**
 * The file claims of one scope (a ticket's repository): the state of its OwnershipActor.
 * Pure and synchronous; the actor persists `toJSON()` and rebuilds with `fromJSON()`.
 *
 * Rules:
 * - A request takes all of a task's globs at once or none of them. It is granted iff its
 *   globs intersect (`claimsConflict`) no holder's **and no earlier waiter's**; otherwise the
 *   task joins the end of the queue. A task with no globs is always granted.
 * - `release` frees a holder (or withdraws a waiter), then scans the queue in FIFO order and
 *   grants each waiter that conflicts with no holder and no earlier waiter still waiting.
 * - No starvation: a later request that conflicts with a waiter queues behind it, so each
 *   waiter is only ever blocked by holders and earlier waiters; as holders release (tasks end
 *   in success or failure and release either way) it moves up and is granted.
 * - No deadlock: a waiter holds nothing while it waits (no hold-and-wait), so no cycle of
 *   tasks each holding what another needs can form.
 * Between calls no waiter is grantable: every call leaves the book stable.
 */
export class ClaimBook {
  private readonly holding: Claim[] = [];
  private readonly queue: Claim[] = [];

  /** An empty book: no holders, no waiters. */
  constructor() {}

  /**
   * Rebuilds a book from `toJSON()` output. Throws `TerminalError` (`invalid_claim_book`) when
   * the value is not a well-formed state (wrong shape, a task listed twice), or
   * (`invalid_glob`) for a glob outside the claim dialect.
   */
  static fromJSON(json: ClaimBookState): ClaimBook {
    const state = json as unknown;
    if (!isRecord(state) || !Array.isArray(state.holders) || !Array.isArray(state.waiters)) {
      throw malformed('it must be an object with "holders" and "waiters" arrays');
    }
    const seen = new Set<string>();
    for (const claim of [...state.holders, ...state.waiters] as unknown[]) {
      if (!isRecord(claim) || typeof claim.taskId !== 'string' || claim.taskId === '' || !Array.isArray(claim.globs)) {
        throw malformed(`${JSON.stringify(claim)} is not a claim { taskId, globs }`);
      }
      if (seen.has(claim.taskId)) throw malformed(`task ${JSON.stringify(claim.taskId)} appears twice`);
      seen.add(claim.taskId);
      for (const glob of claim.globs as unknown[]) validateGlob(glob as string);
    }
    const book = new ClaimBook();
    book.holding.push(...(state.holders as Claim[]).map(copyClaim));
    book.queue.push(...(state.waiters as Claim[]).map(copyClaim));
    return book;
  }

  toJSON(): ClaimBookState {
    return { holders: this.holders(), waiters: this.waiters() };
  }

  /**
   * Asks for all of `globs` for `taskId`. Idempotent: a holder asking again is granted; a
   * waiter asking again keeps its queue position and gets its current blockers. Throws
   * `TerminalError` (`invalid_glob`) for a bad glob and `ConflictError` (`claim_changed`) if
   * the task already holds or waits with different globs; the book is unchanged then.
   */
  request(taskId: string, globs: readonly string[]): ClaimDecision {
    checkTaskId(taskId);
    for (const glob of globs) validateGlob(glob);
    const wanted = [...new Set(globs)];
    const held = this.holding.find((c) => c.taskId === taskId);
    if (held) {
      checkSameGlobs(held, wanted);
      return { granted: true };
    }
    const position = this.queue.findIndex((c) => c.taskId === taskId);
    if (position >= 0) {
      checkSameGlobs(this.queue[position]!, wanted);
      return { granted: false, blockedBy: this.blockersOf(this.queue[position]!, position) };
    }
    const claim = { taskId, globs: wanted };
    const blockedBy = this.blockersOf(claim, this.queue.length);
    if (blockedBy.length === 0) {
      this.holding.push(claim);
      return { granted: true };
    }
    this.queue.push(claim);
    return { granted: false, blockedBy };
  }

  /**
   * Frees the claim of a holder, or withdraws a waiter's request; unknown tasks are ignored
   * (release is idempotent). Returns the ids of the waiters granted as a result, in FIFO order.
   */
  release(taskId: string): string[] {
    checkTaskId(taskId);
    const held = this.holding.findIndex((c) => c.taskId === taskId);
    if (held >= 0) this.holding.splice(held, 1);
    const waiting = this.queue.findIndex((c) => c.taskId === taskId);
    if (waiting >= 0) this.queue.splice(waiting, 1);
    if (held < 0 && waiting < 0) return [];
    return this.grantWaiters();
  }

  holders(): Claim[] {
    return this.holding.map(copyClaim);
  }

  waiters(): Claim[] {
    return this.queue.map(copyClaim);
  }

  /** Holders, then waiters ahead of `position`, whose globs intersect `claim`'s. */
  private blockersOf(claim: Claim, position: number): string[] {
    const conflicting = (other: Claim): boolean => claimsConflict(claim.globs, other.globs);
    return [
      ...this.holding.filter(conflicting),
      ...this.queue.slice(0, position).filter(conflicting),
    ].map((c) => c.taskId);
  }

  private grantWaiters(): string[] {
    const granted: string[] = [];
    for (let i = 0; i < this.queue.length; ) {
      const claim = this.queue[i]!;
      if (this.blockersOf(claim, i).length === 0) {
        this.queue.splice(i, 1);
        this.holding.push(claim);
        granted.push(claim.taskId);
      } else {
        i++;
      }
    }
    return granted;
  }
}

function copyClaim(claim: Claim): Claim {
  return { taskId: claim.taskId, globs: [...claim.globs] };
}

function checkTaskId(taskId: string): void {
  if (typeof taskId !== 'string' || taskId === '') {
    throw new TerminalError('invalid_task_id', `a task id must be a non-empty string, got ${JSON.stringify(taskId)}`, { taskId });
  }
}

function checkSameGlobs(existing: Claim, wanted: readonly string[]): void {
  const same = existing.globs.length === wanted.length && wanted.every((g) => existing.globs.includes(g));
  if (!same) {
    throw new ConflictError(
      'claim_changed',
      `task ${JSON.stringify(existing.taskId)} already claimed ${JSON.stringify(existing.globs)}, not ${JSON.stringify(wanted)}; release it first`,
      { taskId: existing.taskId, claimed: existing.globs, requested: wanted },
    );
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function malformed(why: string): TerminalError {
  return new TerminalError('invalid_claim_book', `claim book state is malformed: ${why}`);
}
