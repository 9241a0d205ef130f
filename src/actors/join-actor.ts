import path from 'node:path';
import { synthesize, type SynthesisStrategy, type SourceResult, type Synthesis } from '../dag/index.ts';
import { ConflictError, NotFoundError, TerminalError } from '../errors.ts';
import { JoinEntity, TicketEntity, type EntityManager, type JoinRow } from '../persistence/index.ts';
import { ActorType } from '../protocol/index.ts';
import type { ActorContext, EntityBehavior } from './entity-host.ts';
import type { MergeActor } from './merge-actor.ts';

/** Asks the TicketActor makes of a JoinActor (same transaction). */
export type JoinMail =
  | { kind: 'register'; ticketId: string; joinId: string; continuation: string; sources: string[]; strategy: SynthesisStrategy; completed: SourceResult[] }
  | { kind: 'source_completed'; source: SourceResult }
  | { kind: 'source_failed'; taskId: string; reason: string }
  | { kind: 'merge_finished'; attempt: number; ok: boolean; commit?: string; files: string[]; reason?: string }
  | { kind: 'resolve'; commit: string }
  | { kind: 'wake' };

/** What became of the join; the TicketActor acts on `merged` and `blocked`. */
export type JoinReply =
  | { kind: 'unchanged'; status: string }
  | { kind: 'collecting' | 'merging'; status: string }
  | { kind: 'merged'; continuation: string; commit: string; synthesis: Synthesis }
  | { kind: 'blocked'; continuation: string; reason: string; files: string[] };

export const JoinStatus = { collecting: 'collecting', merging: 'merging', merged: 'merged', blocked: 'blocked' } as const;

/**
 * JoinActor: one per join (`<ticket>/<join>`), row in `omoi_join`. Records each source's
 * completion once (a duplicate changes nothing); when every source is in, synthesizes their
 * results (the continuation's `synthesis`, default `combine`), emits `join.synthesized`, goes
 * `merging` and — after the commit — starts a MergeActor job for attempt `attempts`.
 * Exactly one merge commit per join: `merge_commit` is written once; a later or stale
 * `merge_finished` is ignored. A source failed for good → `blocked` with `source_failed:<id>`.
 */
export class JoinBehavior implements EntityBehavior<JoinRow | undefined, JoinMail> {
  readonly type = ActorType.JoinActor;

  constructor(private readonly deps: { dataDir: string; merges: MergeActor }) {}

  async hydrate(em: EntityManager, id: string): Promise<JoinRow | undefined> {
    const [ticketId, joinId] = splitId(id);
    return (await em.findOne(JoinEntity, { ticket_id: ticketId, id: joinId }, { disableIdentityMap: true })) ?? undefined;
  }

  async handle(join: JoinRow | undefined, mail: JoinMail, ctx: ActorContext): Promise<{ state: JoinRow | undefined; reply: JoinReply }> {
    if (mail.kind === 'register') return this.register(join, mail, ctx);
    if (!join) throw new NotFoundError('join', ctx.id);
    const unchanged = { state: join, reply: { kind: 'unchanged', status: join.status } as JoinReply };
    switch (mail.kind) {
      case 'source_completed': {
        const { source } = mail;
        if (!join.sources.includes(source.taskId) || join.completed[source.taskId] || join.status !== JoinStatus.collecting) return unchanged;
        const next = this.touch(ctx, { ...join, completed: { ...join.completed, [source.taskId]: { commit: source.commit, result: source.result ?? null } } });
        return this.advance(next, ctx);
      }
      case 'source_failed': {
        if (join.status !== JoinStatus.collecting) return unchanged;
        const next = this.touch(ctx, { ...join, status: JoinStatus.blocked, reason: mail.reason });
        this.save(ctx, next);
        return { state: next, reply: { kind: 'blocked', continuation: join.continuation, reason: mail.reason, files: [] } };
      }
      case 'merge_finished': {
        if (join.merge_commit || join.status !== JoinStatus.merging || mail.attempt !== join.attempts) return unchanged;
        if (mail.ok && mail.commit) {
          const next = this.touch(ctx, { ...join, status: JoinStatus.merged, merge_commit: mail.commit, reason: null, files: null });
          this.save(ctx, next);
          return { state: next, reply: { kind: 'merged', continuation: join.continuation, commit: mail.commit, synthesis: join.synthesis as Synthesis } };
        }
        const reason = mail.reason?.startsWith('merge_error') ? mail.reason : 'merge_conflict';
        const next = this.touch(ctx, { ...join, status: JoinStatus.blocked, reason, files: mail.files });
        this.save(ctx, next);
        return { state: next, reply: { kind: 'blocked', continuation: join.continuation, reason, files: mail.files } };
      }
      case 'resolve': {
        if (join.status !== JoinStatus.blocked || join.merge_commit || !join.reason?.startsWith('merge_')) {
          throw new ConflictError('join_not_blocked_by_merge', `join ${join.id} of ticket ${join.ticket_id} is ${join.status}${join.reason ? ` (${join.reason})` : ''}, not blocked by a merge conflict`);
        }
        const next = this.touch(ctx, { ...join, status: JoinStatus.merged, merge_commit: mail.commit, reason: null });
        this.save(ctx, next);
        return { state: next, reply: { kind: 'merged', continuation: join.continuation, commit: mail.commit, synthesis: join.synthesis as Synthesis } };
      }
      case 'wake': {
        if (join.status === JoinStatus.merging) await this.startMerge(join, ctx);
        return unchanged;
      }
      default:
        throw new TerminalError('unsupported_message', `JoinActor cannot handle ${JSON.stringify((mail as { kind: unknown }).kind)}`);
    }
  }

  async markFailed(em: EntityManager, id: string, reason: string): Promise<void> {
    const [ticketId, joinId] = splitId(id);
    await em.nativeUpdate(JoinEntity, { ticket_id: ticketId, id: joinId }, { status: JoinStatus.blocked, reason: `actor_failed: ${reason}`, updated_at: new Date() });
  }

  private async register(join: JoinRow | undefined, mail: Extract<JoinMail, { kind: 'register' }>, ctx: ActorContext) {
    if (join) return { state: join, reply: { kind: 'unchanged', status: join.status } as JoinReply };
    const now = ctx.scope.now;
    const completed: JoinRow['completed'] = {};
    for (const s of mail.completed) if (mail.sources.includes(s.taskId)) completed[s.taskId] = { commit: s.commit, result: s.result ?? null };
    const row: JoinRow = {
      ticket_id: mail.ticketId, id: mail.joinId, continuation: mail.continuation, sources: [...mail.sources].sort(), completed,
      status: JoinStatus.collecting, strategy: mail.strategy, synthesis: null, merge_commit: null, reason: null, files: null,
      attempts: 0, created_at: now, updated_at: now, version: 1,
    };
    return this.advance(row, ctx);
  }

  /** Saves the join; all sources in → synthesis, `merging`, and a merge after the commit. */
  private async advance(join: JoinRow, ctx: ActorContext): Promise<{ state: JoinRow; reply: JoinReply }> {
    if (!join.sources.every((s) => join.completed[s])) {
      this.save(ctx, join);
      return { state: join, reply: { kind: 'collecting', status: join.status } };
    }
    const synthesis = synthesize(join.strategy as SynthesisStrategy, join.sources.map((s) => ({ taskId: s, ...join.completed[s]! })));
    const next: JoinRow = { ...join, status: JoinStatus.merging, synthesis, attempts: join.attempts + 1 };
    ctx.scope.emit('join.synthesized', { ticket_id: join.ticket_id, join_id: join.id, strategy: synthesis.strategy, sources: join.sources, collisions: synthesis.collisions });
    this.save(ctx, next);
    await this.startMerge(next, ctx);
    return { state: next, reply: { kind: 'merging', status: next.status } };
  }

  /** Reads what the merge needs (the ticket's clone, base and commands) and starts it after commit. */
  private async startMerge(join: JoinRow, ctx: ActorContext): Promise<void> {
    await ctx.scope.uow.flush();
    const ticket = await ctx.scope.em.findOne(TicketEntity, { id: join.ticket_id }, { disableIdentityMap: true });
    if (!ticket?.base_commit) throw new NotFoundError('ticket base commit', join.ticket_id);
    const job = {
      ticketId: join.ticket_id, joinId: join.id, attempt: join.attempts,
      repoDir: path.join(this.deps.dataDir, 'repos', join.ticket_id), base: ticket.base_commit,
      sources: join.sources.map((s) => ({ id: s, commit: join.completed[s]!.commit })),
      time: new Date(join.created_at), resolverCommand: ticket.resolver_command, checkCommand: ticket.check_command,
    };
    ctx.scope.uow.afterCommit(() => this.deps.merges.start(job));
  }

  private touch(ctx: ActorContext, join: JoinRow): JoinRow {
    return { ...join, updated_at: ctx.scope.now, version: join.version + 1 };
  }

  /** Writes the row (write-behind) and publishes the new status. */
  private save(ctx: ActorContext, join: JoinRow): void {
    ctx.scope.uow.upsert(JoinEntity, ['ticket_id', 'id'], join);
    this.emitStatus(ctx, join);
  }

  private emitStatus(ctx: ActorContext, join: JoinRow): void {
    ctx.scope.emit('join.status', {
      ticket_id: join.ticket_id, join_id: join.id, status: join.status, continuation: join.continuation, sources: join.sources,
      completed: Object.keys(join.completed).sort(),
      ...(join.reason ? { reason: join.reason } : {}), ...(join.merge_commit ? { commit: join.merge_commit } : {}), ...(join.files ? { files: join.files } : {}),
    });
  }
}

function splitId(id: string): [string, string] {
  const slash = id.indexOf('/');
  return [id.slice(0, slash), id.slice(slash + 1)];
}
