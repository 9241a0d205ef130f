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
 * `omoi_file_claim` (`held` / `waiting`, `seq` = order): each change writes only the rows it
 * touched; the book is rebuilt from them on hydration. Emits `ownership.status` for every grant, wait and release.
 * It is only asked (never sent commands): the TicketActor serializes its calls.
 */
/** The claim book, plus each claim's row order (`seq`, only ever increasing: rows are never renumbered). */
export interface OwnershipState { book: ClaimBook; seq: Map<string, number>; next: number }

export class OwnershipBehavior implements EntityBehavior<OwnershipState, OwnershipMail> {
  readonly type = ActorType.OwnershipActor;

  async hydrate(em: EntityManager, id: string): Promise<OwnershipState> {
    const rows = await em.find(FileClaimEntity, { ticket_id: id }, { orderBy: { seq: 'asc' }, disableIdentityMap: true });
    const book = ClaimBook.fromJSON({
      holders: rows.filter((r) => r.status === 'held').map((r) => ({ taskId: r.task_id, globs: r.globs })),
      waiters: rows.filter((r) => r.status === 'waiting').map((r) => ({ taskId: r.task_id, globs: r.globs })),
    });
    return { book, seq: new Map(rows.map((r) => [r.task_id, r.seq])), next: rows.reduce((m, r) => Math.max(m, r.seq + 1), 0) };
  }

  async handle(state: OwnershipState, mail: OwnershipMail, ctx: ActorContext): Promise<{ state: OwnershipState; reply: unknown }> {
    const { scope } = ctx;
    const { book } = state;
    switch (mail.kind) {
      case 'claim': {
        const decision = book.request(mail.taskId, mail.globs);
        scope.emit('ownership.status', decision.granted
          ? { ticket_id: mail.ticketId, task_id: mail.taskId, status: 'granted', globs: mail.globs }
          : { ticket_id: mail.ticketId, task_id: mail.taskId, status: 'waiting', globs: mail.globs, blocked_by: decision.blockedBy });
        this.write(ctx, state, mail.ticketId, mail.taskId, mail.globs, decision.granted ? 'held' : 'waiting');
        return { state, reply: decision satisfies ClaimReply };
      }
      case 'release': {
        const globsOf = new Map([...book.holders(), ...book.waiters()].map((c) => [c.taskId, c.globs]));
        if (!globsOf.has(mail.taskId)) return { state, reply: [] };
        const granted = book.release(mail.taskId);
        scope.emit('ownership.status', { ticket_id: mail.ticketId, task_id: mail.taskId, status: 'released', globs: globsOf.get(mail.taskId)! });
        for (const task of granted) scope.emit('ownership.status', { ticket_id: mail.ticketId, task_id: task, status: 'granted', globs: globsOf.get(task) ?? [] });
        scope.uow.remove(FileClaimEntity, ['ticket_id', 'task_id'], { ticket_id: mail.ticketId, task_id: mail.taskId });
        state.seq.delete(mail.taskId);
        for (const task of granted) this.write(ctx, state, mail.ticketId, task, globsOf.get(task) ?? [], 'held');
        return { state, reply: granted };
      }
      default:
        throw new TerminalError('unsupported_message', `OwnershipActor cannot handle ${JSON.stringify((mail as { kind: unknown }).kind)}`);
    }
  }

  async markFailed(): Promise<void> {
    // Claims have no failed state: the ticket owning them is marked failed by its own actor.
  }

  /**
   * Writes one claim row (write-behind, in the ticket's transaction). A claim keeps the `seq` it
   * got when first recorded, so waiters stay in FIFO order across hydrations; only the rows that
   * changed are written.
   */
  private write(ctx: ActorContext, state: OwnershipState, ticketId: string, taskId: string, globs: string[], status: 'held' | 'waiting'): void {
    let seq = state.seq.get(taskId);
    if (seq === undefined) {
      seq = state.next++;
      state.seq.set(taskId, seq);
    }
    ctx.scope.uow.upsert(FileClaimEntity, ['ticket_id', 'task_id'], { ticket_id: ticketId, task_id: taskId, globs, status, seq } satisfies FileClaimRow);
  }
}
