import { isActive, TaskState, TicketState } from '../../dag/index.ts';
import { NotFoundError } from '../../errors.ts';
import { emit } from '../../messaging/typed.ts';
import type { Task } from '../../persistence/index.ts';
import type { PayloadOf } from '../../protocol/index.ts';
import { fail } from './lifecycle.ts';
import { setTask, type Work } from './work.ts';

/**
 * Stuck work: an attempt that runs but does nothing (no output, no progress report) and a
 * ticket that does not change. The node supervisor's sweep finds them (`task.stall`,
 * `ticket.stall`, each with the last sign of life it saw); here they are judged again against
 * the state, raised once, and, for an attempt with `action: restart`, failed so it is retried.
 */

/** The last sign of life of an attempt: its last change of state, or its last progress. */
export function lastSign(t: Task): Date {
  const progress = t.progress_at ? new Date(t.progress_at) : undefined;
  return progress && progress > t.updated_at ? progress : t.updated_at;
}

/** The last change of a ticket: of its row, or of any of its tasks (a progress report counts). */
export function lastChange(w: Pick<Work, 's'>): Date {
  let last = w.s.ticket.updated_at;
  for (const t of w.s.tasks.values()) if (t.updated_at > last) last = t.updated_at;
  return last;
}

/** `task.progress`: the live attempt is not stalled; its stall clock starts again. What it says (message, percent) is a `task.progressed` event. */
export function progress(w: Work, p: PayloadOf<'task.progress'>): void {
  const t = w.s.tasks.get(p.task_id);
  if (!t) throw new NotFoundError('task', `${w.s.ticket.id}/${p.task_id}`);
  if (t.attempt !== p.attempt || !isActive(t)) return; // stale: nothing changes
  setTask(w, t.id, { progress_at: w.ctx.scope.now }, false);
  if (p.message !== undefined || p.percent !== undefined) {
    emit(w.ctx.scope, 'task.progressed', {
      ticket_id: t.ticket_id, task_id: t.id, attempt: t.attempt,
      ...(p.message !== undefined ? { message: p.message } : {}), ...(p.percent !== undefined ? { percent: p.percent } : {}),
    });
  }
}

/**
 * `task.stall`: raised once per attempt (`stalled_attempt`), only if the attempt is still the
 * running one and showed no sign of life since the sweep looked (`since`). `restart`: the
 * attempt fails retryably with reason `stalled` (its agent is told to stop it).
 */
export async function stall(w: Work, p: PayloadOf<'task.stall'>): Promise<void> {
  const t = w.s.tasks.get(p.task_id);
  if (!t) throw new NotFoundError('task', `${w.s.ticket.id}/${p.task_id}`);
  if (t.attempt !== p.attempt || t.status !== TaskState.running || t.stalled_attempt === t.attempt) return;
  if (!(lastSign(t).getTime() <= Date.parse(p.since))) return; // it did something since the sweep looked (or `since` is no time)
  const silent = Math.max(0, w.ctx.scope.now.getTime() - lastSign(t).getTime());
  const action = p.action === 'restart' ? 'restarted' : 'left';
  emit(w.ctx.scope, 'task.stalled', {
    ticket_id: t.ticket_id, task_id: t.id, attempt: t.attempt, ...(t.agent_id ? { agent_id: t.agent_id } : {}), silent_ms: silent, action,
  });
  setTask(w, t.id, { stalled_attempt: t.attempt }, false);
  if (action === 'restarted') {
    await fail(w, { ticket_id: t.ticket_id, task_id: t.id, attempt: t.attempt, retryable: true, error: `stalled: no output and no progress for ${silent} ms` }, { stop: true });
  }
}

/**
 * `ticket.stall`: raised once per stall (`stalled_since` is the change it was raised for), only
 * if nothing changed since the sweep looked. Recording that leaves `updated_at` as it was: it
 * is no change of the ticket's state.
 */
export function ticketStall(w: Work, p: PayloadOf<'ticket.stall'>): void {
  const ticket = w.s.ticket;
  if (ticket.status !== TicketState.open && ticket.status !== TicketState.running) return;
  const last = lastChange(w);
  if (last.getTime() !== Date.parse(p.since)) return; // changed since the sweep looked
  if (ticket.stalled_since && new Date(ticket.stalled_since).getTime() === last.getTime()) return; // raised already
  emit(w.ctx.scope, 'ticket.stalled', { ticket_id: ticket.id, status: ticket.status, idle_ms: Math.max(0, w.ctx.scope.now.getTime() - last.getTime()) });
  w.s.ticket = { ...ticket, stalled_since: last, version: ticket.version + 1 };
}
