import path from 'node:path';
import { synthesize, type SynthesisStrategy, type SourceResult, type Synthesis } from '../dag/index.ts';
import { ConflictError, NotFoundError, TerminalError } from '../errors.ts';
import { JoinEntity, JoinSourceEntity, TicketEntity, type EntityManager, type JoinRow } from '../persistence/index.ts';
import { ActorType, MergeFailure } from '../protocol/index.ts';
import type { ActorContext, EntityBehavior } from './entity-host.ts';
import type { MergeJob, MergeSupervisor } from './merge-actor.ts';

/** Asks the TicketActor makes of a JoinActor (same transaction). */
export type JoinMail =
  | { kind: 'register'; ticketId: string; joinId: string; continuation: string; sources: string[]; strategy: SynthesisStrategy; completed: SourceResult[] }
  | { kind: 'source_completed'; source: SourceResult }
  | { kind: 'source_failed'; taskId: string; reason: string }
  | { kind: 'merge_finished'; attempt: number; ok: boolean; commit?: string; files: string[]; failure?: MergeFailure; reason?: string }
  | { kind: 'resolve'; commit: string }
  /** A person asks for a new merge attempt (`merge.resolve` with `rerun_resolver`); whether the ticket has a resolver command. */
  | { kind: 'rerun'; resolverConfigured: boolean }
  /**
   * A failed or cancelled source was retried (`task.retry`): a join it blocked collects again, with
   * every source completed meanwhile (`completed`; completions are not recorded while blocked),
   * unless another source is still failed (`stillBlockedBy`: that one's block reason).
   */
  | { kind: 'source_retried'; taskId: string; completed: SourceResult[]; stillBlockedBy?: string }
  | { kind: 'wake' };

/** What became of the join; the TicketActor acts on `merged` and `blocked`. */
export type JoinReply =
  | { kind: 'unchanged'; status: string }
  | { kind: 'collecting' | 'merging'; status: string }
  | { kind: 'merged'; continuation: string; commit: string; synthesis: Synthesis }
  | { kind: 'blocked'; continuation: string; reason: string; files: string[] };

export const JoinStatus = { collecting: 'collecting', merging: 'merging', merged: 'merged', blocked: 'blocked' } as const;

/**
 * What blocked a join (`omoi_join.blocked_by`), as data; `reason` is its text for people.
 * A person may `resolve` a join blocked by its merge (`merge_conflict`, `merge_error`) only.
 */
export const JoinBlockedBy = { source_failed: 'source_failed', merge_conflict: 'merge_conflict', merge_error: 'merge_error', actor_failed: 'actor_failed' } as const;
export type JoinBlockedBy = (typeof JoinBlockedBy)[keyof typeof JoinBlockedBy];
/** The reason of a join whose conflicts were over its ticket's `max_conflicts_auto_resolve` (blocked by `merge_conflict`). */
export const TOO_MANY_CONFLICTS = 'too_many_conflicts';
const BLOCKED_BY_MERGE: ReadonlySet<string> = new Set([JoinBlockedBy.merge_conflict, JoinBlockedBy.merge_error]);

/** A recorded source: the head commit of its branch and its JSON result. */
type Completion = { commit: string; result: unknown };

/**
 * A join in memory: its `omoi_join` row and the sources recorded so far (its
 * `omoi_join_source` rows). `completed` is mutated in place: a handler that throws, or a
 * transaction that rolls back, drops the actor's state, which is then re-hydrated.
 */
export interface JoinState { row: JoinRow; completed: Map<string, Completion> }

/**
 * JoinActor: one per join (`<ticket>/<join>`), row in `omoi_join`. Records each source's
 * completion once (a duplicate changes nothing), as its own row in `omoi_join_source`; when
 * every source is in, synthesizes their results (the continuation's `synthesis`, default
 * `combine`), emits `join.synthesized`, goes `merging` and — after the commit — spawns its
 * MergeActor for attempt `attempts` as a nact child (`ctx.self`; see `MergeSupervisor`), again
 * on `wake` (a restarted node). The child stops itself once its report is durable; after
 * committing the attempt's `merge_finished` the join stops any duplicate of it. Exactly one merge commit per join: `merge_commit` is written once; a later or stale
 * `merge_finished` is ignored. A source failed for good → `blocked` with `source_failed:<id>`.
 * A failed merge blocks it by the report's `failure` field (`merge_conflict` or `merge_error`
 * in `blocked_by`), never by the text of its reason. A person resumes a join its merge blocked
 * with a commit (`resolve`) or a new attempt (`rerun`), and one a source's failure blocked by
 * retrying that source (`source_retried`: it collects again).
 *
 * Write volume: a source completion writes its own source row and a `join.status` event of
 * constant size, and nothing else — the join row (whose `sources` is O(n)) is written only when
 * the join is registered and when its status, synthesis, merge commit or attempts change, so
 * an n-source join writes O(n) bytes in all, not O(n²). (So the row's `updated_at`/`version`
 * say when the join last changed state, not when the last source came in: see
 * `omoi_join_source.completed_at` for that.)
 */
export class JoinBehavior implements EntityBehavior<JoinState | undefined, JoinMail> {
  readonly type = ActorType.JoinActor;

  constructor(private readonly deps: { dataDir: string; merges: MergeSupervisor }) {}

  async hydrate(em: EntityManager, id: string): Promise<JoinState | undefined> {
    const [ticketId, joinId] = splitId(id);
    const row = await em.findOne(JoinEntity, { ticket_id: ticketId, id: joinId }, { disableIdentityMap: true });
    if (!row) return undefined;
    const sources = await em.find(JoinSourceEntity, { ticket_id: ticketId, join_id: joinId }, { disableIdentityMap: true });
    return { row: { ...row }, completed: new Map(sources.map((s) => [s.source, { commit: s.commit, result: s.result ?? null }])) };
  }

  async handle(state: JoinState | undefined, mail: JoinMail, ctx: ActorContext): Promise<{ state: JoinState | undefined; reply: JoinReply }> {
    if (mail.kind === 'register') return this.register(state, mail, ctx);
    if (!state) throw new NotFoundError('join', ctx.id);
    const join = state.row;
    const unchanged = { state, reply: { kind: 'unchanged', status: join.status } as JoinReply };
    switch (mail.kind) {
      case 'source_completed': {
        const { source } = mail;
        if (!join.sources.includes(source.taskId) || state.completed.has(source.taskId) || join.status !== JoinStatus.collecting) return unchanged;
        this.record(ctx, join, state.completed, source);
        if (state.completed.size < join.sources.length) {
          // The join row is left as it is: only the source row and a small event are written.
          this.emitStatus(ctx, state, { source: source.taskId });
          return { state, reply: { kind: 'collecting', status: join.status } };
        }
        return this.advance(state, ctx);
      }
      case 'source_failed': {
        if (join.status !== JoinStatus.collecting) return unchanged;
        const next = this.save(ctx, state, { status: JoinStatus.blocked, reason: mail.reason, blocked_by: JoinBlockedBy.source_failed });
        return { state: next, reply: { kind: 'blocked', continuation: join.continuation, reason: mail.reason, files: [] } };
      }
      case 'merge_finished': {
        // The attempt's result is durable (this message): its MergeActor is done, whatever is decided here.
        ctx.scope.uow.afterCommit(() => this.deps.merges.stop(join.ticket_id, join.id, mail.attempt));
        if (join.merge_commit || join.status !== JoinStatus.merging || mail.attempt !== join.attempts) return unchanged;
        if (mail.ok && mail.commit) {
          const next = this.save(ctx, state, { status: JoinStatus.merged, merge_commit: mail.commit, reason: null, blocked_by: null, files: null });
          return { state: next, reply: { kind: 'merged', continuation: join.continuation, commit: mail.commit, synthesis: join.synthesis as Synthesis } };
        }
        // A report without `failure` (an older node's): a conflict if it names files, else an error.
        const failure = mail.failure ?? (mail.files.length ? MergeFailure.conflict : MergeFailure.error);
        const blocked_by = failure === MergeFailure.conflict ? JoinBlockedBy.merge_conflict : JoinBlockedBy.merge_error;
        // A conflict is `merge_conflict`, or `too_many_conflicts` when the ticket's auto-resolve limit kept it from the resolver.
        const reason = failure === MergeFailure.conflict
          ? (mail.reason === TOO_MANY_CONFLICTS ? TOO_MANY_CONFLICTS : JoinBlockedBy.merge_conflict)
          : mail.reason ?? JoinBlockedBy.merge_error;
        const next = this.save(ctx, state, { status: JoinStatus.blocked, reason, blocked_by, files: mail.files });
        return { state: next, reply: { kind: 'blocked', continuation: join.continuation, reason, files: mail.files } };
      }
      case 'resolve': {
        assertBlockedByMerge(join);
        const next = this.save(ctx, state, { status: JoinStatus.merged, merge_commit: mail.commit, reason: null, blocked_by: null });
        return { state: next, reply: { kind: 'merged', continuation: join.continuation, commit: mail.commit, synthesis: join.synthesis as Synthesis } };
      }
      case 'rerun': {
        assertBlockedByMerge(join);
        if (join.blocked_by === JoinBlockedBy.merge_conflict && !mail.resolverConfigured) {
          throw new ConflictError('no_resolver', `join ${join.id} of ticket ${join.ticket_id} is blocked by a merge conflict and the ticket has no resolver_command: a re-run would end the same; supply a commit`);
        }
        if (join.reason === TOO_MANY_CONFLICTS) {
          throw new ConflictError('too_many_conflicts', `join ${join.id} of ticket ${join.ticket_id} has more conflicted files than the ticket's max_conflicts_auto_resolve: a re-run would not reach the resolver; supply a commit`);
        }
        // A new attempt (its own number, so its report and MergeActor are its own): the resolver chain runs again.
        const next = this.save(ctx, state, { status: JoinStatus.merging, reason: null, blocked_by: null, files: null, attempts: join.attempts + 1 });
        await this.startMerge(next, ctx);
        return { state: next, reply: { kind: 'merging', status: next.row.status } };
      }
      case 'source_retried': {
        if (join.status !== JoinStatus.blocked || join.blocked_by !== JoinBlockedBy.source_failed || !join.sources.includes(mail.taskId)) return unchanged;
        if (mail.stillBlockedBy) {
          // Another source is still failed: blocked on, by that one.
          const next = join.reason === mail.stillBlockedBy ? state : this.save(ctx, state, { reason: mail.stillBlockedBy });
          return { state: next, reply: { kind: 'blocked', continuation: join.continuation, reason: mail.stillBlockedBy, files: [] } };
        }
        for (const s of mail.completed) if (join.sources.includes(s.taskId) && !state.completed.has(s.taskId)) this.record(ctx, join, state.completed, s);
        const collecting = this.save(ctx, state, { status: JoinStatus.collecting, reason: null, blocked_by: null, files: null });
        if (collecting.completed.size < join.sources.length) return { state: collecting, reply: { kind: 'collecting', status: JoinStatus.collecting } };
        return this.advance(collecting, ctx);
      }
      case 'wake': {
        if (join.status === JoinStatus.merging) await this.startMerge(state, ctx);
        return unchanged;
      }
      default:
        throw new TerminalError('unsupported_message', `JoinActor cannot handle ${JSON.stringify((mail as { kind: unknown }).kind)}`);
    }
  }

  /** The JoinActor stopped (escalated, node stopping): its MergeActor stops with it; `wake` re-drives the merge. */
  stopped(_id: string, self: ActorContext['self']): void {
    this.deps.merges.stopChildrenOf(self);
  }

  async markFailed(em: EntityManager, id: string, reason: string): Promise<void> {
    const [ticketId, joinId] = splitId(id);
    await em.nativeUpdate(JoinEntity, { ticket_id: ticketId, id: joinId }, { status: JoinStatus.blocked, reason: `actor_failed: ${reason}`, blocked_by: JoinBlockedBy.actor_failed, updated_at: new Date() });
  }

  private async register(state: JoinState | undefined, mail: Extract<JoinMail, { kind: 'register' }>, ctx: ActorContext) {
    if (state) return { state, reply: { kind: 'unchanged', status: state.row.status } as JoinReply };
    const now = ctx.scope.now;
    const row: JoinRow = {
      ticket_id: mail.ticketId, id: mail.joinId, continuation: mail.continuation, sources: [...mail.sources].sort(),
      status: JoinStatus.collecting, strategy: mail.strategy, synthesis: null, merge_commit: null, reason: null, blocked_by: null, files: null,
      attempts: 0, created_at: now, updated_at: now, version: 1,
    };
    const completed = new Map<string, Completion>();
    for (const s of mail.completed) if (row.sources.includes(s.taskId) && !completed.has(s.taskId)) this.record(ctx, row, completed, s);
    const next: JoinState = { row, completed };
    if (completed.size < row.sources.length) {
      ctx.scope.uow.upsert(JoinEntity, ['ticket_id', 'id'], row);
      this.emitStatus(ctx, next, { sources: row.sources });
      return { state: next, reply: { kind: 'collecting', status: row.status } as JoinReply };
    }
    return this.advance(next, ctx);
  }

  /** Records one source's completion: its own row (write-behind), and in memory. */
  private record(ctx: ActorContext, join: JoinRow, completed: Map<string, Completion>, source: SourceResult): void {
    const completion = { commit: source.commit, result: source.result ?? null };
    completed.set(source.taskId, completion);
    ctx.scope.uow.upsert(JoinSourceEntity, ['ticket_id', 'join_id', 'source'], {
      ticket_id: join.ticket_id, join_id: join.id, source: source.taskId, ...completion, completed_at: ctx.scope.now,
    });
  }

  /** Every source is in: synthesis, `merging`, and its MergeActor after the commit. */
  private async advance(state: JoinState, ctx: ActorContext): Promise<{ state: JoinState; reply: JoinReply }> {
    const join = state.row;
    const synthesis = synthesize(join.strategy as SynthesisStrategy, join.sources.map((s) => ({ taskId: s, ...state.completed.get(s)! })));
    ctx.scope.emit('join.synthesized', { ticket_id: join.ticket_id, join_id: join.id, strategy: synthesis.strategy, sources: join.sources, collisions: synthesis.collisions });
    const next = this.save(ctx, state, { status: JoinStatus.merging, synthesis, attempts: join.attempts + 1 });
    await this.startMerge(next, ctx);
    return { state: next, reply: { kind: 'merging', status: next.row.status } };
  }

  /**
   * Reads what the merge needs (the ticket's clone, base and commands) and, after the commit,
   * spawns the MergeActor of the current attempt as this JoinActor's child (a no-op if it runs).
   */
  private async startMerge(state: JoinState, ctx: ActorContext): Promise<void> {
    const join = state.row;
    await ctx.scope.uow.flush();
    const ticket = await ctx.scope.em.findOne(TicketEntity, { id: join.ticket_id }, { disableIdentityMap: true });
    if (!ticket?.base_commit) throw new NotFoundError('ticket base commit', join.ticket_id);
    const job: MergeJob = {
      ticketId: join.ticket_id, joinId: join.id, attempt: join.attempts,
      repoDir: path.join(this.deps.dataDir, 'repos', join.ticket_id), repository: ticket.repository, base: ticket.base_commit,
      sources: join.sources.map((s) => ({ id: s, commit: state.completed.get(s)!.commit })),
      time: new Date(join.created_at), resolverCommand: ticket.resolver_command, checkCommand: ticket.check_command, maxConflictsAutoResolve: ticket.max_conflicts_auto_resolve, network: ticket.network,
    };
    ctx.scope.uow.afterCommit(() => this.deps.merges.spawn(ctx.self, job));
  }

  /** Applies a change of state to the join row, writes it (write-behind) and publishes the new status. */
  private save(ctx: ActorContext, state: JoinState, change: Partial<JoinRow>): JoinState {
    const row: JoinRow = { ...state.row, ...change, updated_at: ctx.scope.now, version: state.row.version + 1 };
    ctx.scope.uow.upsert(JoinEntity, ['ticket_id', 'id'], row);
    const next = { row, completed: state.completed };
    this.emitStatus(ctx, next, { sources: row.sources });
    return next;
  }

  /**
   * `join.status`: counts always; the list of sources only on registration and changes of
   * status, the one source recorded on a per-source `collecting` event.
   */
  private emitStatus(ctx: ActorContext, state: JoinState, extra: { sources: string[] } | { source: string }): void {
    const join = state.row;
    ctx.scope.emit('join.status', {
      ticket_id: join.ticket_id, join_id: join.id, status: join.status, continuation: join.continuation,
      collected: state.completed.size, of: join.sources.length, ...extra,
      ...(join.reason ? { reason: join.reason } : {}), ...(join.merge_commit ? { commit: join.merge_commit } : {}), ...(join.files ? { files: join.files } : {}),
    });
  }
}

/** A person may resume (a commit, or a re-run) only a join its merge blocked. */
function assertBlockedByMerge(join: JoinRow): void {
  if (join.status !== JoinStatus.blocked || join.merge_commit || !BLOCKED_BY_MERGE.has(join.blocked_by ?? '')) {
    throw new ConflictError('join_not_blocked_by_merge', `join ${join.id} of ticket ${join.ticket_id} is ${join.status}${join.reason ? ` (${join.reason})` : ''}, not blocked by its merge`);
  }
}

function splitId(id: string): [string, string] {
  const slash = id.indexOf('/');
  return [id.slice(0, slash), id.slice(slash + 1)];
}
