import { assertTicketTransition, isTerminal, sinksIfDone, TaskState, TicketState } from '../../dag/index.ts';
import { setBranch } from '../../git/index.ts';
import { emit, send } from '../../messaging/typed.ts';
import type { PayloadOf } from '../../protocol/index.ts';
import { deliverOnCompletion } from './delivery.ts';
import { endedOnAgent, releaseClaims, setTask, setTicket, type Work } from './work.ts';

/**
 * How a ticket ends: completed (its branch at the final head: the one sink's commit, or the
 * merge of several sinks, run by the MergeActor's final merge while `finalizing` is set),
 * failed, or cancelled.
 */

/** Every task completed → branch `omoi/<ticket>` at the final head, ticket completed. */
export async function completeIfDone(w: Work): Promise<void> {
  const { ticket } = w.s;
  if (ticket.status !== TicketState.running || ticket.finalizing) return;
  const sinks = sinksIfDone(w.s.tasks);
  if (!sinks) return;
  if (sinks.length === 1) return completeTicket(w, sinks[0]!.commit!);
  setTicket(w, { finalizing: true });
  const job = {
    ticketId: ticket.id, repoDir: w.repoDir(ticket.id), repository: ticket.repository, base: ticket.base_commit!, sources: sinks.map((t) => ({ id: t.id, commit: t.commit! })),
    time: new Date(ticket.created_at), resolverCommand: ticket.resolver_command, checkCommand: ticket.check_command, maxConflictsAutoResolve: ticket.max_conflicts_auto_resolve, network: ticket.network,
  };
  w.ctx.scope.uow.afterCommit(() => w.deps.merges.finalize(job));
}

async function completeTicket(w: Work, head: string): Promise<void> {
  // The head may have been made on another node (a task's or a merge's commit).
  await w.deps.commits.ensure(w.s.ticket.id, w.s.ticket.repository, [head]);
  await setBranch(w.repoDir(w.s.ticket.id), `omoi/${w.s.ticket.id}`, head); // idempotent: safe before the commit
  endTicket(w, TicketState.completed, null, head);
}

/** `ticket.finalize`: the final merge of several sinks finished. */
export async function finalize(w: Work, p: PayloadOf<'ticket.finalize'>): Promise<void> {
  if (w.s.ticket.status !== TicketState.running) return;
  if (p.head) return completeTicket(w, p.head);
  endTicket(w, TicketState.failed, `final_merge_failed: ${p.error ?? 'unknown'}`);
}

export function endTicket(w: Work, status: TicketState, reason: string | null, head: string | null = null): void {
  const t = w.s.ticket;
  assertTicketTransition(t.status, status, t.id);
  setTicket(w, { status, reason, finalizing: false, head: head ?? t.head });
  if (status === TicketState.completed) {
    emit(w.ctx.scope, 'ticket.completed', { ticket_id: t.id, status, head: head! });
    deliverOnCompletion(w); // its branch is pushed, or waits for a person first
  } else emit(w.ctx.scope, 'ticket.ended', { ticket_id: t.id, status, ...(reason ? { reason } : {}) });
  // A ticket of a spec (a phase's, or the work): its SpecActor goes on from here.
  if (t.spec_id && t.spec_phase && (status === TicketState.completed || status === TicketState.failed || status === TicketState.cancelled)) {
    send(w.ctx.scope, 'spec.ticket_ended', {
      spec_id: t.spec_id, ticket_id: t.id, phase: t.spec_phase as PayloadOf<'spec.ticket_ended'>['phase'], status,
      ...(head ?? t.head ? { head: (head ?? t.head)! } : {}), ...(reason ? { reason: reason.slice(0, 2000) } : {}),
    });
  }
}

/** `ticket.cancel`: every task not ended is cancelled (its agent told, its claims released), then the ticket. */
export async function cancelTicket(w: Work, p: PayloadOf<'ticket.cancel'>): Promise<void> {
  const reason = p.reason ?? 'cancelled';
  assertTicketTransition(w.s.ticket.status, TicketState.cancelled, w.s.ticket.id);
  for (const task of [...w.s.tasks.values()]) {
    if (isTerminal(task.status)) continue;
    endedOnAgent(w, task, { stop: true }); // only an active attempt has an agent to tell
    // Who and why, on the attempt (shown by the task API).
    setTask(w, task.id, { status: TaskState.cancelled, reason: `ticket cancelled: ${reason}`, cancelled_by: w.source ?? null }, { reason });
    // Its file claims (held or waited for) go: the waiters granted are this ticket's, cancelled too.
    if (task.status !== TaskState.pending) await releaseClaims(w, task.id);
  }
  endTicket(w, TicketState.cancelled, reason);
}
