import { assertTicketTransition, continuationsOf, joinIdFor, TaskState, TicketState, type SourceResult } from '../../dag/index.ts';
import { ConflictError, NotFoundError } from '../../errors.ts';
import { emit, send } from '../../messaging/typed.ts';
import type { Task } from '../../persistence/index.ts';
import type { PayloadOf } from '../../protocol/index.ts';
import { onJoinReply } from './joins.ts';
import { askJoin, setTask, setTicket, type Work } from './work.ts';

/**
 * `task.retry`: a person takes back a task that ended without completing (`failed` — its retries
 * exhausted — or `cancelled`), undoing what its end did:
 *
 * 1. The task goes back to `pending` (the scheduler claims its files and offers it afresh), or to
 *    `blocked` while one of its own dependencies is still failed or cancelled. Its retries count
 *    from here (`attempt_base`): `max_retries` more after its first new attempt. Attempt numbers
 *    keep growing, so a late report of an old attempt stays stale.
 * 2. What its end blocked is restored: its sole dependents (`blocked` by it: it was their only
 *    dependency) go back to `pending`; each join it is a source of collects again (with the
 *    sources completed meanwhile) unless another source is still failed — then it stays blocked,
 *    by that one.
 * 3. A `failed` ticket is `running` again once none of its tasks is failed (`ticket.resumed`):
 *    a ticket several tasks failed needs each retried.
 *
 * Refused: an unknown task (`not_found`), one that neither failed nor was cancelled
 * (`task_not_retryable`), a completed or cancelled ticket (`ticket_ended`). A ticket an actor
 * failure ended (`failed_reason`) is refused before this (`entity_failed`).
 */
export async function retryTask(w: Work, p: PayloadOf<'task.retry'>): Promise<void> {
  const { ticket } = w.s;
  if (ticket.status === TicketState.completed || ticket.status === TicketState.cancelled) {
    throw new ConflictError('ticket_ended', `ticket ${ticket.id} is ${ticket.status}: its tasks can no longer be retried`, { ticket: ticket.id, status: ticket.status });
  }
  const t = w.s.tasks.get(p.task_id);
  if (!t) throw new NotFoundError('task', `${ticket.id}/${p.task_id}`);
  if (t.status !== TaskState.failed && t.status !== TaskState.cancelled) {
    throw new ConflictError('task_not_retryable', `task ${JSON.stringify(t.id)} is ${t.status}: only a failed or cancelled task can be retried`, { task: t.id, status: t.status });
  }
  const from = t.status;
  const block = endedDependency(w, t.depends_on);
  const retried = setTask(w, t.id, {
    status: block ? TaskState.blocked : TaskState.pending, reason: block ?? null, agent_id: null, ready_since: null, cancelled_by: null,
    attempt_base: t.attempt, retried_by: w.source ?? null, retry_reason: p.reason ?? null,
  });
  for (const d of w.s.tasks.values()) {
    // Blocked with one dependency, this one: only its end blocked it (src/actors/ticket/lifecycle.ts).
    if (d.status === TaskState.blocked && new Set(d.depends_on).size === 1 && d.depends_on.includes(t.id)) setTask(w, d.id, { status: TaskState.pending, reason: null });
  }
  for (const c of continuationsOf(w.s.tasks, t.id)) await reopenJoin(w, t.id, w.s.tasks.get(c.id)!);
  if (ticket.status === TicketState.failed && ![...w.s.tasks.values()].some((x) => x.status === TaskState.failed)) {
    assertTicketTransition(ticket.status, TicketState.running, ticket.id);
    setTicket(w, { status: TicketState.running, reason: null });
    emit(w.ctx.scope, 'ticket.resumed', { ticket_id: ticket.id, status: TicketState.running, task_id: t.id, ...(p.reason ? { reason: p.reason } : {}) });
    // A spec's work ticket: the spec that failed with it follows it again.
    if (ticket.spec_id && ticket.spec_phase === 'EXECUTE') send(w.ctx.scope, 'spec.ticket_resumed', { spec_id: ticket.spec_id, ticket_id: ticket.id });
  }
  emit(w.ctx.scope, 'task.retried', {
    ticket_id: ticket.id, task_id: t.id, from, status: retried.status, ...(w.source ? { by: w.source } : {}), ...(p.reason ? { reason: p.reason } : {}),
    attempt_base: t.attempt, ticket_status: w.s.ticket.status,
  });
}

/** The block reason of the first (by id) dependency that failed or was cancelled; undefined if none did. */
function endedDependency(w: Work, dependsOn: readonly string[]): string | undefined {
  for (const id of [...new Set(dependsOn)].sort()) {
    const d = w.s.tasks.get(id);
    if (d?.status === TaskState.failed) return `source_failed:${id}`;
    if (d?.status === TaskState.cancelled) return `source_cancelled:${id}`;
  }
  return undefined;
}

/** The join of continuation `c` collects again (see `JoinMail` `source_retried`); `c` follows it. */
async function reopenJoin(w: Work, source: string, c: Task): Promise<void> {
  const completed: SourceResult[] = [];
  for (const id of new Set(c.depends_on)) {
    const s = w.s.tasks.get(id);
    if (s?.status === TaskState.completed) completed.push({ taskId: id, commit: s.commit!, result: s.result ?? null });
  }
  const stillBlockedBy = endedDependency(w, c.depends_on);
  const reply = await askJoin(w, joinIdFor(c.id), { kind: 'source_retried', taskId: source, completed, ...(stillBlockedBy ? { stillBlockedBy } : {}) });
  if ((reply.kind === 'collecting' || reply.kind === 'merging') && w.s.tasks.get(c.id)?.status === TaskState.blocked) {
    setTask(w, c.id, { status: TaskState.pending, reason: null });
  } else if (reply.kind === 'blocked' && c.status === TaskState.blocked && c.reason !== reply.reason) {
    setTask(w, c.id, { reason: reply.reason }, false);
  } else {
    onJoinReply(w, reply);
  }
}
