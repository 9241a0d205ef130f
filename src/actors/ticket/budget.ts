import { changeBudget, chargeOf, addCharge, crossings, isOverBudget, onExceededOf, type Crossing } from '../../budget/index.ts';
import { isActive, isTerminal, TaskState } from '../../dag/index.ts';
import { emit, send } from '../../messaging/typed.ts';
import { AttemptUsageEntity, type Task } from '../../persistence/index.ts';
import type { PayloadOf } from '../../protocol/index.ts';
import { endedOnAgent, setTask, setTicket, type Work } from './work.ts';

/**
 * A ticket's budget (cost and wall time of its attempts).
 *
 * 1. The live attempt's report (`task.complete`, `task.fail`) carries its usage: one
 *    `omoi_attempt_usage` row, the ticket's spend, and `agent.usage` to its agent, once per
 *    attempt (a repeated report is not live). A late report of an earlier attempt (one stopped
 *    by a cancel, a budget or its deadline) is charged to the ticket if its attempt has no row
 *    yet; its agent is not known any more, so the agent's spend does not include it.
 * 2. Crossing the warn share publishes `budget.warning`, reaching a limit `budget.exceeded`
 *    (src/budget/account.ts decides, once per limit value) and sets `budget_exceeded`.
 * 3. While `budget_exceeded`, no attempt starts (`holdsAttempts`); with `on_exceeded: stop` the
 *    running ones are stopped (the cancel path: `agent.task_ended` with `stop`) and their tasks
 *    go back to `ready`. `ticket.set_budget` changes the budget; back under it, the ready tasks
 *    are scheduled again (the handler reschedules every task).
 */

/** Why a ready task does not start while its ticket is over budget (people read it; `budget_exceeded` on the ticket decides). */
export const BUDGET_HOLD = 'budget_exceeded';

type Usage = NonNullable<PayloadOf<'task.complete'>['usage']>;

/** Charges the usage of attempt `t` (the live one when its report arrived), after the report was applied. */
export function chargeAttempt(w: Work, t: Task, outcome: 'completed' | 'failed', usage: Usage | undefined): void {
  if (usage) charge(w, { taskId: t.id, attempt: t.attempt, agentId: t.agent_id }, outcome, usage);
}

/**
 * A report of an earlier attempt of the task (stale: a later attempt exists, or the task moved on)
 * is charged to the ticket once, if that attempt has no usage row yet (one query, only for such
 * reports). Its outcome is `failed`: it was not taken.
 */
export async function chargeLateAttempt(w: Work, p: { task_id: string; attempt: number; usage?: Usage }): Promise<void> {
  const t = w.s.tasks.get(p.task_id);
  if (!p.usage || !t || p.attempt > t.attempt) return; // an attempt never assigned costs nothing
  const { scope } = w.ctx;
  await scope.uow.flush(AttemptUsageEntity); // rows of earlier messages of this transaction count
  const rows = await scope.em.getConnection().execute(
    'select 1 from omoi_attempt_usage where ticket_id = ? and task_id = ? and attempt = ?', [t.ticket_id, t.id, p.attempt], 'all', scope.em.getTransactionContext(),
  ) as unknown[];
  if (!rows.length) charge(w, { taskId: t.id, attempt: p.attempt, agentId: null }, 'failed', p.usage);
}

function charge(w: Work, a: { taskId: string; attempt: number; agentId: string | null }, outcome: 'completed' | 'failed', usage: Usage): void {
  const { scope } = w.ctx;
  const charge = chargeOf(usage);
  const ticketId = w.s.ticket.id;
  scope.uow.upsert(AttemptUsageEntity, ['ticket_id', 'task_id', 'attempt'], {
    ticket_id: ticketId, task_id: a.taskId, attempt: a.attempt, agent_id: a.agentId, outcome, model: usage.model ?? null, usage: { ...usage }, recorded_at: scope.now,
  });
  if (a.agentId) send(scope, 'agent.usage', { agent_id: a.agentId, ticket_id: ticketId, task_id: a.taskId, attempt: a.attempt, ...charge });
  const onUsage = w.deps.onUsage;
  if (onUsage) scope.uow.afterCommit(() => onUsage(charge, outcome));
  const ticket = w.s.ticket;
  const spend = addCharge(ticket.spend, charge);
  const { crossed, marks } = crossings(ticket.budget, spend, ticket.budget_marks, w.deps.budgetDefaults);
  setTicket(w, { spend, budget_marks: marks });
  announce(w, crossed);
  updateExceeded(w);
}

/** `ticket.set_budget`: the change, its `budget.changed`, and any line the new limits put the spend past. */
export function setBudget(w: Work, p: PayloadOf<'ticket.set_budget'>): void {
  const ticket = w.s.ticket;
  const changed = changeBudget(ticket.budget, p, ticket.budget_marks);
  const { crossed, marks } = crossings(changed.budget, ticket.spend, changed.marks, w.deps.budgetDefaults);
  setTicket(w, { budget: changed.budget, budget_marks: marks });
  const exceeded = isOverBudget(changed.budget, ticket.spend);
  emit(w.ctx.scope, 'budget.changed', { scope: 'ticket', id: ticket.id, ticket_id: ticket.id, cost_usd: changed.budget?.cost_usd ?? null, wall_ms: changed.budget?.wall_ms ?? null, exceeded });
  announce(w, crossed);
  updateExceeded(w);
  // Still over, and the change asked for `stop`: what runs is stopped now (a no-op when nothing does).
  if (w.s.ticket.budget_exceeded && !isTerminal(w.s.ticket.status) && onExceededOf(w.s.ticket.budget, w.deps.budgetDefaults) === 'stop') stopRunning(w);
}

/** True while the ticket may start no attempt; marks its due ready tasks with why. */
export function holdsAttempts(w: Work, due: readonly { id: string }[]): boolean {
  if (!w.s.ticket.budget_exceeded) return false;
  for (const { id } of due) if (w.s.tasks.get(id)?.reason !== BUDGET_HOLD) setTask(w, id, { reason: BUDGET_HOLD }, false);
  return true;
}

function announce(w: Work, crossed: Crossing[]): void {
  const id = w.s.ticket.id;
  for (const c of crossed) {
    emit(w.ctx.scope, c.kind === 'warning' ? 'budget.warning' : 'budget.exceeded', { scope: 'ticket', id, ticket_id: id, measure: c.measure, spent: c.spent, limit: c.limit, share: c.share });
  }
}

/** Keeps `budget_exceeded` equal to "a limit is reached"; on becoming exceeded under `stop`, stops what runs. */
function updateExceeded(w: Work): void {
  const ticket = w.s.ticket;
  const exceeded = isOverBudget(ticket.budget, ticket.spend);
  if (exceeded === ticket.budget_exceeded) return;
  setTicket(w, { budget_exceeded: exceeded });
  if (exceeded && !isTerminal(ticket.status) && onExceededOf(ticket.budget, w.deps.budgetDefaults) === 'stop') stopRunning(w);
}

/** `on_exceeded: stop`: every active attempt is stopped (as a cancel stops it) and its task requeued, held until a raise. */
function stopRunning(w: Work): void {
  for (const t of [...w.s.tasks.values()]) {
    if (!isActive(t)) continue;
    endedOnAgent(w, t, { stop: true });
    setTask(w, t.id, { status: TaskState.ready, agent_id: null, ready_since: w.ctx.scope.now, reason: BUDGET_HOLD });
  }
}
