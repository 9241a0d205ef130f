import { planAssignments, planClaims, dueReady, TaskState, TicketState, assertTicketTransition } from '../../dag/index.ts';
import { emit, send } from '../../messaging/typed.ts';
import { taskBranch } from './branch.ts';
import { holdsAttempts } from './budget.ts';
import { completeIfDone } from './finish.ts';
import type { TaskMemory } from '../../memory/index.ts';
import { claim, setTask, setTicket, type Work } from './work.ts';

/**
 * Applies the scheduler's decisions (src/dag/scheduler.ts) after a message: a pending task
 * whose dependencies completed asks for all its globs → `ready` or `waiting_for_files`; due
 * ready tasks go to agents → `assigned` and `agent.assign`; none matching → `agent.mismatch`
 * (once per ready state, `unmatched`); none while the ticket is over budget (they wait with
 * reason `budget_exceeded`). Then the ticket completes if every task did.
 *
 * `touched` is `'all'` after a message that may have changed any task, else the tasks the
 * message changed (the scheduler adds the dependents of those that completed).
 */
export async function schedule(w: Work, touched: 'all' | ReadonlySet<string>): Promise<void> {
  const { ticket, tasks } = w.s;
  if (ticket.status !== TicketState.open && ticket.status !== TicketState.running) return;
  for (const plan of planClaims(ticket.base_commit!, tasks, touched === 'all' ? 'all' : [...touched])) {
    // A task that owns nothing claims nothing: it can neither wait for nor block another.
    const decision = plan.globs.length ? await claim(w, plan.taskId, plan.globs) : { granted: true as const };
    if (decision.granted) setTask(w, plan.taskId, { status: TaskState.ready, base_commit: plan.base, context: plan.context, ready_since: w.ctx.scope.now, reason: null });
    else setTask(w, plan.taskId, { status: TaskState.waiting_for_files, base_commit: plan.base, context: plan.context, reason: `waiting_for:${decision.blockedBy.join(',')}` });
  }
  if (ticket.status === TicketState.open && [...tasks.values()].some((t) => t.status !== TaskState.pending)) {
    assertTicketTransition(TicketState.open, TicketState.running, ticket.id);
    setTicket(w, { status: TicketState.running });
  }
  await assign(w);
  await completeIfDone(w);
}

async function assign(w: Work): Promise<void> {
  const now = w.ctx.scope.now.getTime();
  // Most messages find nothing due: the agent table is then not read at all.
  const due = dueReady(w.s.tasks.values(), now);
  if (!due.length || holdsAttempts(w, due)) return;
  const agents = await w.deps.agents.list(w.ctx.scope);
  const plan = planAssignments(w.s.ticket.id, w.s.tasks, agents, now);
  for (const m of plan.mismatches) {
    emit(w.ctx.scope, 'agent.mismatch', { ticket_id: w.s.ticket.id, task_id: m.taskId, phase: m.phase, required: m.required, candidates: m.candidates });
    setTask(w, m.taskId, { unmatched: true }, false);
  }
  const memories = await recallAll(w, plan.assignments.map((a) => a.taskId));
  for (const { taskId, agentId } of plan.assignments) {
    const t = w.s.tasks.get(taskId)!;
    const next = setTask(w, taskId, { status: TaskState.assigned, attempt: t.attempt + 1, agent_id: agentId, reason: null });
    send(w.ctx.scope, 'agent.assign', {
      agent_id: agentId, ticket_id: t.ticket_id, task_id: t.id, attempt: next.attempt, base: next.base_commit!, branch: taskBranch(t.ticket_id, t.id),
      kind: t.spec.kind, run: t.spec.run, owns: t.owns, timeout_ms: t.spec.timeout_ms, context: withMemory(next.context ?? {}, memories.get(taskId)), ownership: w.s.ticket.ownership,
      repository: w.s.ticket.repository, ...(w.s.ticket.network === false ? { network: false } : {}), ...(t.spec.check ? { check: t.spec.check } : {}),
    });
  }
}

/**
 * The memory of past work recalled for each task about to start, all at once (bounded by the
 * recall's own timeout, whatever the number of tasks). Recall never throws: a task it found
 * nothing for, or whose recall failed or was late, starts without `context.memory`.
 */
async function recallAll(w: Work, taskIds: string[]): Promise<Map<string, TaskMemory>> {
  const out = new Map<string, TaskMemory>();
  const recall = w.deps.memory;
  if (!recall || !taskIds.length) return out;
  await Promise.all(taskIds.map(async (id) => {
    const t = w.s.tasks.get(id)!;
    const memory = await recall.recall({ repository: w.s.ticket.repository, ticket_id: t.ticket_id, task_id: t.id, title: t.spec.title, run: t.spec.run, owns: t.owns });
    if (memory) out.set(id, memory);
  }));
  return out;
}

/** The task's context with `memory` added; a context that is not an object (no synthesis made one) is kept as is. */
function withMemory(context: unknown, memory: TaskMemory | undefined): unknown {
  if (!memory || typeof context !== 'object' || context === null || Array.isArray(context)) return context;
  return { ...context, memory };
}
