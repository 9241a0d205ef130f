import { budgetFrom, NO_SPEND } from '../../budget/index.ts';
import { joinsFor, validateTasks, TaskState, TicketState, type SourceResult, type TaskSpec } from '../../dag/index.ts';
import { TerminalError } from '../../errors.ts';
import { attachTicketClone, resolveCommit } from '../../git/index.ts';
import { emit } from '../../messaging/typed.ts';
import type { Ticket } from '../../persistence/index.ts';
import type { PayloadOf } from '../../protocol/index.ts';
import { awaitExecution } from './approvals.ts';
import { onJoinReply } from './joins.ts';
import { askJoin, type Work } from './work.ts';

/**
 * `ticket.create`: the ticket's clone, its base commit, a `pending` row per task and a join
 * per task with several dependencies. Returns the message's work on the new ticket.
 */
export async function create(w: Omit<Work, 's'>, existing: Ticket | undefined, p: PayloadOf<'ticket.create'>): Promise<Work> {
  if (existing) throw new TerminalError('duplicate_ticket', `ticket ${JSON.stringify(p.ticket_id)} already exists`, { ticket_id: p.ticket_id }, 409);
  validateTasks(p.tasks);
  if (p.approvals?.includes('before_delivery') && !p.delivery) {
    throw new TerminalError('delivery_required', 'the before_delivery gate needs a delivery: give `delivery` (e.g. {} to push omoi/<ticket> to the ticket\'s repository)', { approvals: p.approvals });
  }
  // Omoi's own clone: tasks, merges and the ticket branch never touch the user's repository.
  // Cloned or fetched by `TicketBehavior.prepare`, before the transaction; here only checked.
  const repoDir = w.repoDir(p.ticket_id);
  await attachTicketClone(w.deps.dataDir, p.ticket_id, p.repository);
  let baseCommit: string;
  try {
    baseCommit = await resolveCommit(repoDir, p.base_branch);
  } catch (err) {
    throw new TerminalError('unknown_base_branch', `base branch ${JSON.stringify(p.base_branch)} does not exist in ${p.repository}`, { base_branch: p.base_branch });
  }
  const now = w.ctx.scope.now;
  const ticket: Ticket = {
    id: p.ticket_id, title: p.title, repository: p.repository, base_branch: p.base_branch, base_commit: baseCommit,
    status: TicketState.open, ownership: p.ownership, resolver_command: p.resolver_command ?? null, check_command: p.check_command ?? null,
    max_conflicts_auto_resolve: p.max_conflicts_auto_resolve ?? w.deps.maxConflictsAutoResolve ?? null,
    network: p.network ?? true, budget: budgetFrom(p.budget), spend: NO_SPEND, budget_marks: {}, budget_exceeded: false, head: null, reason: null, failed_reason: null, finalizing: false, created_at: now, updated_at: now, version: 1,
    approvals: p.approvals ?? [], delivery: p.delivery ?? null, delivery_status: null, delivery_round: 0, delivery_attempts: 0,
    delivered_commit: null, pull_request_url: null, pull_request_error: null, delivery_error: null,
    spec_id: p.spec_id ?? null, spec_phase: p.spec_phase ?? null,
  };
  const work: Work = { ...w, s: { ticket, tasks: new Map() } };
  for (const spec of p.tasks) insertTask(work, spec);
  emit(w.ctx.scope, 'ticket.created', { ticket_id: ticket.id, title: ticket.title, tasks: p.tasks.map((t) => t.id), joins: joinsFor(p.tasks).map((j) => j.joinId) });
  for (const spec of p.tasks) await registerJoin(work, spec);
  awaitExecution(work); // before_execute: nothing is scheduled until a person approves
  return work;
}

export function insertTask(w: Work, spec: TaskSpec): void {
  const now = w.ctx.scope.now;
  w.s.tasks.set(spec.id, {
    ticket_id: w.s.ticket.id, id: spec.id, spec, depends_on: spec.depends_on, owns: spec.owns,
    status: TaskState.pending, attempt: 0, base_commit: null, commit: null, result: null, reason: null, agent_id: null,
    context: null, ready_since: null, unmatched: false, attempt_base: 0, created_at: now, updated_at: now, version: 1,
  });
  w.dirty.add(spec.id);
}

/** Any task with two or more dependencies gets a join, however it was created. */
export async function registerJoin(w: Work, spec: TaskSpec): Promise<void> {
  const [join] = joinsFor([spec]);
  if (!join) return;
  const completed: SourceResult[] = [];
  for (const source of join.sources) {
    const t = w.s.tasks.get(source);
    if (t?.status === TaskState.completed) completed.push({ taskId: source, commit: t.commit!, result: t.result ?? null });
  }
  onJoinReply(w, await askJoin(w, join.joinId, {
    kind: 'register', ticketId: w.s.ticket.id, joinId: join.joinId, continuation: spec.id, sources: join.sources,
    strategy: spec.synthesis ?? 'combine', completed,
  }));
}
