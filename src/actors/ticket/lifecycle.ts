import { continuationsOf, isActive, isTerminal, joinIdFor, soleDependents, TaskState, TicketState } from '../../dag/index.ts';
import { ConflictError, NotFoundError, TerminalError } from '../../errors.ts';
import { emit } from '../../messaging/typed.ts';
import type { Task } from '../../persistence/index.ts';
import { agentOfSource, type PayloadOf } from '../../protocol/index.ts';
import { nodeOfLocalAgent } from '../local-agent.ts';
import { checkFailure, checkPassed, retryContext, uncheckedCompletion } from './checks.ts';
import { endTicket } from './finish.ts';
import { onJoinReply } from './joins.ts';
import { askJoin, endedOnAgent, releaseClaims, setTask, type Work } from './work.ts';

/**
 * The life of a task attempt after it was assigned: started, completed, failed (retried with
 * backoff or failed for good), cancelled. Reports name their attempt; a stale or duplicate
 * report changes nothing.
 */

/** The attempt a report names, if it is the live one; stale or duplicate reports give undefined. */
export function live(w: Work, p: { task_id: string; attempt: number }): Task | undefined {
  const t = w.s.tasks.get(p.task_id);
  if (!t) throw new NotFoundError('task', `${w.s.ticket.id}/${p.task_id}`);
  return t.attempt === p.attempt && isActive(t) ? t : undefined;
}

/**
 * A report signed by a remote agent (source `agent:<id>`, set by the ingress router) must name an
 * attempt assigned to that agent: `wrong_agent` otherwise, and the task is left as it was. A
 * report of an attempt that is not the task's current one is stale and changes nothing anyway.
 * Nodes' reports (their executors, HTTP) are not signed by an agent and are taken as before.
 */
export function assertReporter(w: Work, source: string, p: { task_id: string; attempt: number }): void {
  const agent = agentOfSource(source);
  if (agent === undefined) return;
  const t = w.s.tasks.get(p.task_id);
  if (t && t.attempt === p.attempt && t.agent_id !== agent) {
    throw new TerminalError('wrong_agent', `attempt ${p.attempt} of task ${w.s.ticket.id}/${p.task_id} is ${t.agent_id ? `assigned to agent ${t.agent_id}` : 'not assigned to an agent'}, not to ${agent}`, { agent_id: agent });
  }
}

export function started(w: Work, p: PayloadOf<'task.started'>): void {
  const t = live(w, p);
  if (t) runningNow(w, t);
}

/**
 * An attempt that reports is running. Its result may overtake its `task.started`: a report
 * kept in the outbox while NATS was away is re-driven later than the result published after
 * NATS came back, so a result for an `assigned` attempt first moves it to `running`.
 */
function runningNow(w: Work, t: Task): Task {
  return t.status === TaskState.assigned ? setTask(w, t.id, { status: TaskState.running }) : t;
}

export async function complete(w: Work, p: PayloadOf<'task.complete'>): Promise<void> {
  const reported = live(w, p);
  if (!reported) return; // stale attempt or duplicate completion: nothing changes
  const refused = await refusedCommit(w, reported, p.commit);
  if (refused) return fail(w, { ticket_id: p.ticket_id, task_id: p.task_id, attempt: p.attempt, retryable: true, error: refused });
  const unchecked = uncheckedCompletion(reported, p);
  if (unchecked) return fail(w, { ticket_id: p.ticket_id, task_id: p.task_id, attempt: p.attempt, retryable: true, error: unchecked });
  const t = runningNow(w, reported);
  checkPassed(w, t);
  const commit = p.commit ?? t.base_commit;
  if (p.ownership_warnings?.length) emit(w.ctx.scope, 'task.ownership_violation', { ticket_id: w.s.ticket.id, task_id: t.id, attempt: t.attempt, files: p.ownership_warnings, mode: 'lenient' });
  setTask(w, t.id, { status: TaskState.completed, commit, result: p.result ?? null, reason: null });
  endedOnAgent(w, t);
  await release(w, t.id);
  for (const c of continuationsOf(w.s.tasks, t.id)) {
    onJoinReply(w, await askJoin(w, joinIdFor(c.id), { kind: 'source_completed', source: { taskId: t.id, commit: commit!, result: p.result ?? null } }));
  }
}

/**
 * Why a commit delivered from outside Omoi — by a remote agent, or through HTTP — is refused
 * (the attempt then fails retryably with that reason), or `undefined` to take it. It must be
 * in the object store (`<ticket>/<commit>`) or the ticket's repository, and descend from the
 * attempt's base. A node's own agent's commits were saved and checked by its executor.
 */
async function refusedCommit(w: Work, t: Task, commit: string | undefined): Promise<string | undefined> {
  if (!commit || commit === t.base_commit || (t.agent_id && nodeOfLocalAgent(t.agent_id) !== undefined)) return undefined;
  try {
    await w.deps.commits.ensureDescendant(w.s.ticket.id, w.s.ticket.repository, t.base_commit ?? commit, commit);
    return undefined;
  } catch (err) {
    if (!(err instanceof TerminalError)) throw err; // passing (NATS away): the message is delivered again
    return err.message; // ends with its code, e.g. `[not_descendant]`
  }
}

export async function fail(w: Work, p: PayloadOf<'task.fail'>, o: { stop?: boolean } = {}): Promise<void> {
  const t = live(w, p);
  if (!t) return;
  if (p.violations?.length) emit(w.ctx.scope, 'task.ownership_violation', { ticket_id: w.s.ticket.id, task_id: t.id, attempt: t.attempt, files: p.violations, mode: 'strict' });
  endedOnAgent(w, t, o);
  // Retries count from the last person's `task.retry` (`attempt_base`), so a retried task gets its `max_retries` again.
  const retry = p.retryable !== false && t.attempt - (t.attempt_base ?? 0) <= t.spec.max_retries && w.s.ticket.status === TicketState.running;
  const previous = checkFailure(w, t, p, retry);
  if (retry) {
    const delay = Math.min((w.deps.retryBaseMs ?? 500) * 2 ** (t.attempt - 1), 60_000);
    setTask(w, t.id, {
      status: TaskState.ready, ready_since: new Date(w.ctx.scope.now.getTime() + delay), reason: `retry after: ${p.error.slice(0, 2000)}`, agent_id: null,
      context: retryContext(t.context, previous),
    });
    const { publish } = w.deps;
    const due: PayloadOf<'task.retry_due'> = { ticket_id: w.s.ticket.id, task_id: t.id, attempt: t.attempt };
    w.ctx.scope.uow.afterCommit(() => {
      setTimeout(() => void publish('task.retry_due', due, `retry-due:${due.ticket_id}:${due.task_id}:${due.attempt}`).catch(() => undefined), delay).unref();
    });
    return;
  }
  runningNow(w, t); // an attempt that never started fails for good through `running`
  await failForGood(w, t.id, `task_failed: ${p.error.slice(0, 2000)}`);
}

/**
 * `task.expire`: the attempt passed its deadline (its agent went silent). If it is still the
 * live attempt it is failed retryably, as a lost agent's attempt is (requeued with backoff, or
 * failed for good when no retries are left), after a `task.expired` event. Once per attempt: a
 * second expiry, or one that a result overtook, finds the attempt no longer live.
 */
export async function expire(w: Work, p: PayloadOf<'task.expire'>): Promise<void> {
  const t = live(w, p);
  if (!t) return;
  emit(w.ctx.scope, 'task.expired', { ticket_id: t.ticket_id, task_id: t.id, attempt: t.attempt, agent_id: p.agent_id, status: t.status, silent_ms: p.silent_ms });
  await fail(w, { ticket_id: t.ticket_id, task_id: t.id, attempt: t.attempt, retryable: true, error: `attempt_expired: no progress and no heartbeat of agent ${p.agent_id} for ${p.silent_ms} ms` }, { stop: true });
}

/** The backoff of a failed attempt elapsed: the task is due again. */
export function retryDue(w: Work, p: PayloadOf<'task.retry_due'>): void {
  const t = w.s.tasks.get(p.task_id);
  if (t?.status === TaskState.ready && t.attempt === p.attempt) setTask(w, t.id, { ready_since: w.ctx.scope.now });
}

export async function cancelTask(w: Work, p: PayloadOf<'task.cancel'>): Promise<void> {
  const t = w.s.tasks.get(p.task_id);
  if (!t) throw new NotFoundError('task', `${w.s.ticket.id}/${p.task_id}`);
  if (isTerminal(t.status)) throw new ConflictError('illegal_transition', `task ${JSON.stringify(t.id)} is already ${t.status}`);
  endedOnAgent(w, t, { stop: true });
  setTask(w, t.id, { cancelled_by: w.source ?? null }, false); // who cancelled it (why: `reason`)
  await failForGood(w, t.id, p.reason ?? 'cancelled', TaskState.cancelled);
}

/** A task ended for good without completing: claims released, dependents and the ticket blocked/failed. */
async function failForGood(w: Work, id: string, reason: string, status: TaskState = TaskState.failed): Promise<void> {
  setTask(w, id, { status, reason });
  await release(w, id);
  const blockReason = `${status === TaskState.cancelled ? 'source_cancelled' : 'source_failed'}:${id}`;
  for (const c of continuationsOf(w.s.tasks, id)) {
    onJoinReply(w, await askJoin(w, joinIdFor(c.id), { kind: 'source_failed', taskId: id, reason: blockReason }));
  }
  for (const t of soleDependents(w.s.tasks, id)) setTask(w, t.id, { status: TaskState.blocked, reason: blockReason });
  if (status === TaskState.failed && w.s.ticket.status === TicketState.running) endTicket(w, TicketState.failed, `task_failed:${id}`);
}

/** Frees a task's claims; waiters granted as a result become ready. */
async function release(w: Work, taskId: string): Promise<void> {
  if (!w.s.tasks.get(taskId)?.owns.length) return; // it claimed nothing
  for (const id of await releaseClaims(w, taskId)) {
    const t = w.s.tasks.get(id);
    if (t?.status === TaskState.waiting_for_files) setTask(w, id, { status: TaskState.ready, ready_since: w.ctx.scope.now, reason: null });
  }
}
