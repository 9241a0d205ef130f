import { ClaimBook, type ClaimDecision } from '../ownership/index.ts';
import { FileClaimEntity, type EntityManager, type FileClaimRow } from '../persistence/index.ts';
import { ActorType } from '../protocol/index.ts';
import { TerminalError } from '../errors.ts';
import type { ActorContext, EntityBehavior } from './entity-host.ts';

/** Asks the TicketActor makes of the OwnershipActor of its ticket (same transaction). */
export type OwnershipMail =
  | { kind: 'claim'; ticketId: string; taskId: string; globs: string[] }
  | { kind: 'release'; ticketId: string; taskId: string };

/** Reply of `claim`: the ClaimBook's decision. Reply of `release`: the task ids granted as a result. */
export type ClaimReply = ClaimDecision;

/**
 * OwnershipActor: one per ticket (the scope of file claims is the ticket's repository). Its
 * state is a `ClaimBook` (all-or-nothing claims, FIFO waiters), persisted as rows of
 * `omoi_file_claim` (`held` / `waiting`, `seq` = order) after every change, and rebuilt from
 * them on hydration. Emits `ownership.status` for every grant, wait and release.
 * It is only asked (never sent commands): the TicketActor serializes its calls.
 */
export class OwnershipBehavior implements EntityBehavior<ClaimBook, OwnershipMail> {
  readonly type = ActorType.OwnershipActor;

  async hydrate(em: EntityManager, id: string): Promise<ClaimBook> {
    const rows = await em.find(FileClaimEntity, { ticket_id: id }, { orderBy: { seq: 'asc' }, disableIdentityMap: true });
    return ClaimBook.fromJSON({
      holders: rows.filter((r) => r.status === 'held').map((r) => ({ taskId: r.task_id, globs: r.globs })),
      waiters: rows.filter((r) => r.status === 'waiting').map((r) => ({ taskId: r.task_id, globs: r.globs })),
    });
  }

  async handle(book: ClaimBook, mail: OwnershipMail, ctx: ActorContext): Promise<{ state: ClaimBook; reply: unknown }> {
    const { scope } = ctx;
    switch (mail.kind) {
      case 'claim': {
        const decision = book.request(mail.taskId, mail.globs);
        scope.emit('ownership.status', decision.granted
          ? { ticket_id: mail.ticketId, task_id: mail.taskId, status: 'granted', globs: mail.globs }
          : { ticket_id: mail.ticketId, task_id: mail.taskId, status: 'waiting', globs: mail.globs, blocked_by: decision.blockedBy });
        await this.persist(ctx, mail.ticketId, book);
        return { state: book, reply: decision satisfies ClaimReply };
      }
      case 'release': {
        const globsOf = new Map([...book.holders(), ...book.waiters()].map((c) => [c.taskId, c.globs]));
        if (!globsOf.has(mail.taskId)) return { state: book, reply: [] };
        const granted = book.release(mail.taskId);
        scope.emit('ownership.status', { ticket_id: mail.ticketId, task_id: mail.taskId, status: 'released', globs: globsOf.get(mail.taskId)! });
        for (const task of granted) scope.emit('ownership.status', { ticket_id: mail.ticketId, task_id: task, status: 'granted', globs: globsOf.get(task) ?? [] });
        await this.persist(ctx, mail.ticketId, book);
        return { state: book, reply: granted };
      }
      default:
        throw new TerminalError('unsupported_message', `OwnershipActor cannot handle ${JSON.stringify((mail as { kind: unknown }).kind)}`);
    }
  }

  async markFailed(): Promise<void> {
    // Claims have no failed state: the ticket owning them is marked failed by its own actor.
  }

  /** Rewrites the ticket's claim rows: what left the book is deleted, the rest upserted in order. */
  private async persist(ctx: ActorContext, ticketId: string, book: ClaimBook): Promise<void> {
    const rows: FileClaimRow[] = [
      ...book.holders().map((c) => ({ ticket_id: ticketId, task_id: c.taskId, globs: c.globs, status: 'held' as const, seq: 0 })),
      ...book.waiters().map((c) => ({ ticket_id: ticketId, task_id: c.taskId, globs: c.globs, status: 'waiting' as const, seq: 0 })),
    ].map((r, i) => ({ ...r, seq: i }));
    await ctx.scope.uow.flush();
    await ctx.scope.em.nativeDelete(FileClaimEntity, rows.length ? { ticket_id: ticketId, task_id: { $nin: rows.map((r) => r.task_id) } } : { ticket_id: ticketId });
    for (const row of rows) ctx.scope.uow.upsert(FileClaimEntity, ['ticket_id', 'task_id'], row);
  }
}
