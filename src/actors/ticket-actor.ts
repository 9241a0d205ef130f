import {
  validateTasks, joinsFor, joinIdFor, bestReady, TicketState, TaskState, assertTicketTransition, assertTransition, isTerminal as isTerminalState,
  type TaskSpec, type SourceResult, type SynthesisStrategy,
} from '../dag/index.ts';
import { ConflictError, NotFoundError, TerminalError } from '../errors.ts';
import type { PublishCommand } from '../executor/command-publisher.ts';
import { attachTicketClone, prepareTicketClone, refreshTicketClone, resolveCommit, setBranch, ticketRepoDir } from '../git/index.ts';
import type { EntityManager } from '../persistence/index.ts';
import { JoinEntity, MergeAttemptEntity, TaskEntity, TicketEntity, type AgentRow, type TaskRow, type TicketRow } from '../persistence/index.ts';
import { ActorType, type Envelope } from '../protocol/index.ts';
import type { CommandMail } from './actor-runtime.ts';
import type { AgentDirectory } from './agent-directory.ts';
import type { ActorContext, EntityBehavior, EntityHost } from './entity-host.ts';
import type { JoinMail, JoinReply } from './join-actor.ts';
import type { MergeActor } from './merge-actor.ts';
import type { ClaimReply, OwnershipMail } from './ownership-actor.ts';

/** In-memory state of one ticket: its row and its tasks, keyed by task id. */
export interface TicketActorState {
  ticket: TicketRow | undefined;
  tasks: Map<string, TaskRow>;
}

type CreatePayload = {
  ticket_id: string; title: string; repository: string; base_branch: string; tasks: TaskSpec[];
  ownership: string; resolver_command?: string; check_command?: string;
};
type P = Record<string, any>;

export interface TicketDeps {
  /** Node data directory: Omoi's clones live in `<dataDir>/repos/<ticket>`. */
  dataDir: string;
  ownership: () => EntityHost<unknown, OwnershipMail>;
  joins: () => EntityHost<unknown, JoinMail>;
  merges: MergeActor;
  publish: PublishCommand;
  /** The agents tasks may be offered to (a short-lived snapshot, see there). */
  agents: AgentDirectory;
  /** First retry delay of a failed attempt, doubled per attempt (default 500 ms, at most 60 s). */
  retryBaseMs?: number;
}

/** One message's work on a ticket: the state being changed and the task rows touched. */
interface Work {
  s: { ticket: TicketRow; tasks: Map<string, TaskRow> };
  ctx: ActorContext;
  dirty: Set<string>;
}

/** Messages after which every pending task is looked at again; after the others, only those the message touched. */
const FULL_SCHEDULE = new Set(['ticket.wake', 'task.add', 'task.split', 'merge.resolve']);

const ACTIVE = new Set<string>([TaskState.assigned, TaskState.running]);

/**
 * TicketActor: one per ticket. Owns the ticket row and its task rows; every change to them
 * happens here, in the order the ticket's partition delivers its commands. It asks downwards
 * only (OwnershipActor, JoinActor, in the same transaction); agents and merges answer with
 * durable commands (`task.complete`, `task.fail`, `merge.finished`, `ticket.finalize`).
 *
 * Scheduling (`schedule`, after every change): a `pending` task whose dependencies are all
 * `completed` (and, for a join continuation, whose join merged: its `base_commit` is set) asks
 * for all its globs → `ready` or `waiting_for_files`; ready tasks (in `orderReady` order, retry
 * backoff elapsed) go to the best matching healthy agent with free capacity → `assigned` and
 * `agent.assign`; none matching → `agent.mismatch` (once per task until it changes).
 */
export class TicketBehavior implements EntityBehavior<TicketActorState, CommandMail> {
  readonly type = ActorType.TicketActor;

  constructor(private readonly deps: TicketDeps) {}

  async hydrate(em: EntityManager, id: string): Promise<TicketActorState> {
    const row = await em.findOne(TicketEntity, { id }, { disableIdentityMap: true });
    const tasks = row ? await em.find(TaskEntity, { ticket_id: id }, { disableIdentityMap: true }) : [];
    // Plain copies: an ORM-managed row carries its change-tracking data, a few KiB per idle actor.
    return { ticket: row ? { ...row } : undefined, tasks: new Map(tasks.map((t) => [t.id, { ...t }])) };
  }

  async handle(state: TicketActorState, mail: CommandMail, ctx: ActorContext): Promise<{ state: TicketActorState }> {
    const env = mail.env;
    if (env.type === 'ticket.create') return { state: await this.create(state, env as Envelope<CreatePayload>, ctx) };
    const existing = this.existing(state, env);
    const w: Work = { s: { ticket: existing.ticket, tasks: new Map(existing.tasks) }, ctx, dirty: new Set() };
    const p = env.payload as P;
    switch (env.type) {
      case 'ticket.cancel':
        return { state: this.cancel(existing, p.reason ?? 'cancelled', ctx) };
      case 'task.started': this.started(w, p); break;
      case 'task.complete': await this.complete(w, p); break;
      case 'task.fail': await this.fail(w, p); break;
      case 'task.retry_due': this.retryDue(w, p); break;
      case 'task.add': await this.add(w, p.task as TaskSpec); break;
      case 'task.split': await this.split(w, p); break;
      case 'task.cancel': await this.cancelTask(w, p); break;
      case 'merge.finished': await this.mergeFinished(w, p); break;
      case 'merge.resolve': await this.resolve(w, p); break;
      case 'ticket.wake': await this.wake(w); break;
      case 'ticket.finalize': await this.finalize(w, p); break;
      default:
        throw new TerminalError('unsupported_command', `TicketActor cannot handle ${env.type}`);
    }
    await this.schedule(w, FULL_SCHEDULE.has(env.type));
    // The ticket row is written only when this message replaced it (changes never mutate it in place).
    this.save(ctx, w.s.ticket === existing.ticket ? undefined : w.s.ticket, [...w.dirty].map((id) => w.s.tasks.get(id)!));
    return { state: w.s };
  }

  /**
   * Before the transaction (see `EntityBehavior.prepare`): `ticket.create` clones or fetches the
   * repository into the node's shared clone and links `repos/<ticket>` to it; `merge.resolve`
   * fetches the resolution. The handlers then only check the link.
   */
  async prepare(env: Envelope): Promise<void> {
    const p = env.payload as P;
    if (env.type === 'ticket.create') await prepareTicketClone(this.deps.dataDir, p.ticket_id, p.repository);
    else if (env.type === 'merge.resolve') await refreshTicketClone(this.deps.dataDir, p.ticket_id);
  }

  async markFailed(em: EntityManager, id: string, reason: string): Promise<void> {
    await em.nativeUpdate(TicketEntity, { id }, { status: TicketState.failed, failed_reason: reason, updated_at: new Date() });
  }

  private repoDir(ticketId: string): string {
    return ticketRepoDir(this.deps.dataDir, ticketId); // a link to the node's shared clone of the repository
  }

  private existing(state: TicketActorState, env: Envelope): TicketActorState & { ticket: TicketRow } {
    if (!state.ticket) throw new NotFoundError('ticket', (env.payload as { ticket_id: string }).ticket_id);
    if (state.ticket.status === TicketState.failed && state.ticket.failed_reason) {
      throw new TerminalError('entity_failed', `ticket ${state.ticket.id} failed: ${state.ticket.failed_reason}`);
    }
    return state as TicketActorState & { ticket: TicketRow };
  }

  // ---- creation -------------------------------------------------------------------------

  private async create(state: TicketActorState, env: Envelope<CreatePayload>, ctx: ActorContext): Promise<TicketActorState> {
    const p = env.payload;
    if (state.ticket) throw new TerminalError('duplicate_ticket', `ticket ${JSON.stringify(p.ticket_id)} already exists`, { ticket_id: p.ticket_id }, 409);
    validateTasks(p.tasks);
    // Omoi's own clone: tasks, merges and the ticket branch never touch the user's repository.
    const repoDir = this.repoDir(p.ticket_id);
    await attachTicketClone(this.deps.dataDir, p.ticket_id, p.repository); // fetched by `prepare`, before the transaction
    let baseCommit: string;
    try {
      baseCommit = await resolveCommit(repoDir, p.base_branch);
    } catch (err) {
      throw new TerminalError('unknown_base_branch', `base branch ${JSON.stringify(p.base_branch)} does not exist in ${p.repository}`, { base_branch: p.base_branch });
    }
    const now = ctx.scope.now;
    const ticket: TicketRow = {
      id: p.ticket_id, title: p.title, repository: p.repository, base_branch: p.base_branch, base_commit: baseCommit,
      status: TicketState.open, ownership: p.ownership, resolver_command: p.resolver_command ?? null, check_command: p.check_command ?? null,
      head: null, reason: null, failed_reason: null, created_at: now, updated_at: now, version: 1,
    };
    const w: Work = { s: { ticket, tasks: new Map() }, ctx, dirty: new Set() };
    for (const spec of p.tasks) this.insertTask(w, spec);
    ctx.scope.emit('ticket.created', { ticket_id: ticket.id, title: ticket.title, tasks: p.tasks.map((t) => t.id), joins: joinsFor(p.tasks).map((j) => j.joinId) });
    for (const spec of p.tasks) await this.registerJoin(w, spec);
    await this.schedule(w, true);
    this.save(ctx, w.s.ticket, [...w.dirty].map((id) => w.s.tasks.get(id)!));
    return w.s;
  }

  private insertTask(w: Work, spec: TaskSpec): void {
    const now = w.ctx.scope.now;
    w.s.tasks.set(spec.id, {
      ticket_id: w.s.ticket.id, id: spec.id, spec: spec as unknown as Record<string, unknown>, depends_on: spec.depends_on, owns: spec.owns,
      status: TaskState.pending, attempt: 0, base_commit: null, commit: null, result: null, reason: null, agent_id: null,
      context: null, ready_since: null, created_at: now, updated_at: now, version: 1,
    });
    w.dirty.add(spec.id);
  }

  /** Any task with two or more dependencies gets a join, however it was created. */
  private async registerJoin(w: Work, spec: TaskSpec): Promise<void> {
    const [join] = joinsFor([spec]);
    if (!join) return;
    const completed: SourceResult[] = [];
    for (const source of join.sources) {
      const t = w.s.tasks.get(source);
      if (t?.status === TaskState.completed) completed.push({ taskId: source, commit: t.commit!, result: t.result ?? null });
    }
    const reply = await this.deps.joins().ask(`${w.s.ticket.id}/${join.joinId}`, {
      kind: 'register', ticketId: w.s.ticket.id, joinId: join.joinId, continuation: spec.id, sources: join.sources,
      strategy: (spec.synthesis ?? 'combine') as SynthesisStrategy, completed,
    }, w.ctx.scope) as JoinReply;
    this.onJoinReply(w, reply);
  }

  // ---- task lifecycle -------------------------------------------------------------------

  private setTask(w: Work, id: string, patch: Partial<TaskRow>, event: Record<string, unknown> | false = {}): TaskRow {
    const prev = w.s.tasks.get(id)!;
    // The transition table of src/dag/states.ts is enforced on every change of state.
    if (patch.status && patch.status !== prev.status) assertTransition(prev.status as TaskState, patch.status as TaskState, id);
    const next = { ...prev, ...patch, updated_at: w.ctx.scope.now, version: prev.version + 1 };
    w.s.tasks.set(id, next);
    w.dirty.add(id);
    if (event !== false && patch.status && patch.status !== prev.status) {
      w.ctx.scope.emit('task.status', {
        ticket_id: next.ticket_id, task_id: id, status: next.status, attempt: next.attempt,
        ...(next.reason ? { reason: next.reason } : {}), ...(next.commit ? { commit: next.commit } : {}),
        ...(next.base_commit ? { base: next.base_commit } : {}), ...(next.agent_id ? { agent_id: next.agent_id } : {}), ...event,
      });
    }
    return next;
  }

  /** The attempt a report names, if it is the live one; stale or duplicate reports give undefined. */
  private live(w: Work, p: P): TaskRow | undefined {
    const t = w.s.tasks.get(p.task_id);
    if (!t) throw new NotFoundError('task', `${w.s.ticket.id}/${p.task_id}`);
    return t.attempt === p.attempt && ACTIVE.has(t.status) ? t : undefined;
  }

  private started(w: Work, p: P): void {
    const t = this.live(w, p);
    if (t?.status === TaskState.assigned) this.setTask(w, t.id, { status: TaskState.running });
  }

  private async complete(w: Work, p: P): Promise<void> {
    const t = this.live(w, p);
    if (!t) return; // stale attempt or duplicate completion: nothing changes
    const commit = p.commit ?? t.base_commit;
    const warnings = p.ownership_warnings as string[] | undefined;
    if (warnings?.length) w.ctx.scope.emit('task.ownership_violation', { ticket_id: w.s.ticket.id, task_id: t.id, attempt: t.attempt, files: warnings, mode: 'lenient' });
    this.setTask(w, t.id, { status: TaskState.completed, commit, result: p.result ?? null, reason: null });
    this.endedOnAgent(w, t);
    await this.release(w, t.id);
    for (const c of this.continuationsOf(w, t.id)) {
      const reply = await this.deps.joins().ask(`${w.s.ticket.id}/${joinIdFor(c.id)}`, { kind: 'source_completed', source: { taskId: t.id, commit, result: p.result ?? null } }, w.ctx.scope) as JoinReply;
      this.onJoinReply(w, reply);
    }
  }

  private async fail(w: Work, p: P): Promise<void> {
    const t = this.live(w, p);
    if (!t) return;
    const spec = t.spec as unknown as TaskSpec;
    const violation = /^ownership_violation: changed files outside its claims: (.*)$/s.exec(String(p.error));
    if (violation) w.ctx.scope.emit('task.ownership_violation', { ticket_id: w.s.ticket.id, task_id: t.id, attempt: t.attempt, files: violation[1].split(', '), mode: 'strict' });
    this.endedOnAgent(w, t);
    if (p.retryable !== false && t.attempt <= spec.max_retries && w.s.ticket.status === TicketState.running) {
      const delay = Math.min((this.deps.retryBaseMs ?? 500) * 2 ** (t.attempt - 1), 60_000);
      this.setTask(w, t.id, { status: TaskState.ready, ready_since: new Date(w.ctx.scope.now.getTime() + delay), reason: `retry after: ${String(p.error).slice(0, 2000)}`, agent_id: null });
      const { publish } = this.deps;
      const ticketId = w.s.ticket.id;
      w.ctx.scope.uow.afterCommit(() => {
        setTimeout(() => void publish('task.retry_due', { ticket_id: ticketId, task_id: t.id, attempt: t.attempt }, `retry-due:${ticketId}:${t.id}:${t.attempt}`).catch(() => undefined), delay).unref();
      });
      return;
    }
    await this.failForGood(w, t.id, `task_failed: ${String(p.error).slice(0, 2000)}`);
  }

  private retryDue(w: Work, p: P): void {
    const t = w.s.tasks.get(p.task_id);
    if (t?.status === TaskState.ready && t.attempt === p.attempt) this.setTask(w, t.id, { ready_since: w.ctx.scope.now });
  }

  /** A task ended for good without completing: claims released, dependents and the ticket blocked/failed. */
  private async failForGood(w: Work, id: string, reason: string, status: TaskState = TaskState.failed): Promise<void> {
    this.setTask(w, id, { status, reason });
    await this.release(w, id);
    const blockReason = `${status === TaskState.cancelled ? 'source_cancelled' : 'source_failed'}:${id}`;
    for (const c of this.continuationsOf(w, id)) {
      const reply = await this.deps.joins().ask(`${w.s.ticket.id}/${joinIdFor(c.id)}`, { kind: 'source_failed', taskId: id, reason: blockReason }, w.ctx.scope) as JoinReply;
      this.onJoinReply(w, reply);
    }
    for (const t of w.s.tasks.values()) {
      if (t.status === TaskState.pending && new Set(t.depends_on).size === 1 && t.depends_on.includes(id)) this.setTask(w, t.id, { status: TaskState.blocked, reason: blockReason });
    }
    if (status === TaskState.failed && w.s.ticket.status === TicketState.running) {
      this.endTicket(w, TicketState.failed, `task_failed:${id}`);
    }
  }

  private async cancelTask(w: Work, p: P): Promise<void> {
    const t = w.s.tasks.get(p.task_id);
    if (!t) throw new NotFoundError('task', `${w.s.ticket.id}/${p.task_id}`);
    if (isTerminalState(t.status as TaskState)) throw new ConflictError('illegal_transition', `task ${JSON.stringify(t.id)} is already ${t.status}`);
    if (ACTIVE.has(t.status)) this.endedOnAgent(w, t);
    await this.failForGood(w, t.id, p.reason ?? 'cancelled', TaskState.cancelled);
  }

  /** Frees a task's claims; waiters granted as a result become ready. */
  private async release(w: Work, taskId: string): Promise<void> {
    if (!w.s.tasks.get(taskId)?.owns.length) return; // it claimed nothing
    const granted = await this.deps.ownership().ask(w.s.ticket.id, { kind: 'release', ticketId: w.s.ticket.id, taskId }, w.ctx.scope) as string[];
    for (const id of granted) {
      const t = w.s.tasks.get(id);
      if (t?.status === TaskState.waiting_for_files) this.setTask(w, id, { status: TaskState.ready, ready_since: w.ctx.scope.now, reason: null });
    }
  }

  private endedOnAgent(w: Work, t: TaskRow): void {
    if (t.agent_id) w.ctx.scope.send('agent.task_ended', { agent_id: t.agent_id, ticket_id: t.ticket_id, task_id: t.id, attempt: t.attempt });
  }

  /** Tasks joining `taskId` with others (two or more dependencies). */
  private continuationsOf(w: Work, taskId: string): TaskRow[] {
    return [...w.s.tasks.values()].filter((t) => t.depends_on.length >= 2 && t.depends_on.includes(taskId) && new Set(t.depends_on).size >= 2).sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  // ---- dynamic DAG ----------------------------------------------------------------------

  private assertOpen(w: Work): void {
    if (isTerminalState(w.s.ticket.status as TicketState)) throw new ConflictError('ticket_ended', `ticket ${w.s.ticket.id} is ${w.s.ticket.status}`);
  }

  private specs(w: Work): TaskSpec[] {
    return [...w.s.tasks.values()].map((t) => ({ ...(t.spec as unknown as TaskSpec), depends_on: t.depends_on }));
  }

  private async add(w: Work, spec: TaskSpec): Promise<void> {
    this.assertOpen(w);
    validateTasks([spec], this.specs(w));
    this.insertTask(w, spec);
    await this.registerJoin(w, spec);
  }

  /**
   * A running task splits: new tasks (those listing no dependency depend on the splitting task,
   * so they start from its head once it completes) and a continuation depending on all of them;
   * tasks that depended on the splitting task now depend on the continuation.
   */
  private async split(w: Work, p: P): Promise<void> {
    this.assertOpen(w);
    const parent = w.s.tasks.get(p.task_id);
    if (!parent) throw new NotFoundError('task', `${w.s.ticket.id}/${p.task_id}`);
    if (!ACTIVE.has(parent.status)) throw new ConflictError('illegal_transition', `task ${JSON.stringify(parent.id)} is ${parent.status}; only a running task can split`);
    const tasks = (p.tasks as TaskSpec[]).map((t) => ({ ...t, depends_on: t.depends_on.length ? t.depends_on : [parent.id] }));
    const cont = p.continuation as TaskSpec;
    const continuation = { ...cont, depends_on: [...new Set([...cont.depends_on, ...tasks.map((t) => t.id)])] };
    const dependents = [...w.s.tasks.values()].filter((t) => t.depends_on.includes(parent.id) && !isTerminalState(t.status as TaskState));
    const rewired = this.specs(w).map((s) => (dependents.some((d) => d.id === s.id) ? { ...s, depends_on: s.depends_on.map((d) => (d === parent.id ? continuation.id : d)) } : s));
    validateTasks([...tasks, continuation], rewired);
    for (const d of dependents) {
      const depends_on = [...new Set(d.depends_on.map((x) => (x === parent.id ? continuation.id : x)))];
      this.setTask(w, d.id, { depends_on, spec: { ...d.spec, depends_on } });
    }
    for (const spec of [...tasks, continuation]) this.insertTask(w, spec);
    for (const spec of [...tasks, continuation]) await this.registerJoin(w, spec);
  }

  // ---- joins and merges -----------------------------------------------------------------

  private onJoinReply(w: Work, reply: JoinReply): void {
    if (reply.kind === 'merged') {
      const c = w.s.tasks.get(reply.continuation)!;
      const patch: Partial<TaskRow> = { base_commit: reply.commit, context: reply.synthesis, reason: null };
      // A continuation blocked by a merge conflict resumes: it is scheduled again on the resolved commit.
      if (c.status === TaskState.blocked) patch.status = TaskState.pending;
      this.setTask(w, c.id, patch, false);
    } else if (reply.kind === 'blocked') {
      const c = w.s.tasks.get(reply.continuation)!;
      if (c.status === TaskState.pending) this.setTask(w, c.id, { status: TaskState.blocked, reason: reply.reason }, reply.files.length ? { files: reply.files } : {});
    }
  }

  private async mergeFinished(w: Work, p: P): Promise<void> {
    const { scope } = w.ctx;
    scope.uow.upsert(MergeAttemptEntity, ['ticket_id', 'join_id', 'attempt'], {
      ticket_id: p.ticket_id, join_id: p.join_id, attempt: p.attempt, ok: p.ok, commit: p.commit ?? null, merge_order: p.order,
      conflicts: p.conflicts, resolutions: p.resolutions, files: p.files, resolver_output: p.reason ? `${p.reason}\n${p.resolver_output}` : p.resolver_output,
      duration_ms: Math.round(p.duration_ms), created_at: scope.now,
    });
    scope.emit('merge.attempted', {
      ticket_id: p.ticket_id, join_id: p.join_id, ok: p.ok, ...(p.commit ? { commit: p.commit } : {}), order: p.order, conflicts: p.conflicts, files: p.files, duration_ms: p.duration_ms,
    });
    const reply = await this.deps.joins().ask(`${w.s.ticket.id}/${p.join_id}`, { kind: 'merge_finished', attempt: p.attempt, ok: p.ok, commit: p.commit, files: p.files, reason: p.reason }, scope) as JoinReply;
    this.onJoinReply(w, reply);
  }

  private async resolve(w: Work, p: P): Promise<void> {
    const repoDir = this.repoDir(w.s.ticket.id);
    await attachTicketClone(this.deps.dataDir, w.s.ticket.id, w.s.ticket.repository, p.commit); // fetched by `prepare`: the resolution was pushed to the user's repository
    try {
      await resolveCommit(repoDir, p.commit);
    } catch {
      throw new TerminalError('unknown_commit', `commit ${p.commit} is not in ${w.s.ticket.repository}`, { commit: p.commit });
    }
    const reply = await this.deps.joins().ask(`${w.s.ticket.id}/${p.join_id}`, { kind: 'resolve', commit: p.commit }, w.ctx.scope) as JoinReply;
    this.onJoinReply(w, reply);
  }

  private async wake(w: Work): Promise<void> {
    await w.ctx.scope.uow.flush();
    const merging = await w.ctx.scope.em.find(JoinEntity, { ticket_id: w.s.ticket.id, status: 'merging' }, { disableIdentityMap: true });
    for (const j of merging) await this.deps.joins().ask(`${w.s.ticket.id}/${j.id}`, { kind: 'wake' }, w.ctx.scope);
    if (w.s.ticket.reason === 'finalizing') w.s.ticket = { ...w.s.ticket, reason: null }; // re-run the final merge below
  }

  // ---- scheduling -----------------------------------------------------------------------

  private async schedule(w: Work, full: boolean): Promise<void> {
    const { ticket, tasks } = w.s;
    if (ticket.status !== TicketState.open && ticket.status !== TicketState.running) return;
    for (const t of this.candidates(w, full)) {
      if (t.status !== TaskState.pending) continue;
      const deps = [...new Set(t.depends_on)];
      if (!deps.every((d) => tasks.get(d)?.status === TaskState.completed)) continue;
      let base: string;
      let context = t.context;
      if (deps.length === 0) base = ticket.base_commit!;
      else if (deps.length === 1) {
        const parent = tasks.get(deps[0]!)!;
        base = parent.commit!;
        context = { sources: [{ task_id: parent.id, commit: parent.commit, result: parent.result ?? null }] };
      } else if (t.base_commit) base = t.base_commit;
      else continue; // its join has not merged yet
      // A task that owns nothing claims nothing: it can neither wait for nor block another.
      const decision: ClaimReply = t.owns.length
        ? await this.deps.ownership().ask(ticket.id, { kind: 'claim', ticketId: ticket.id, taskId: t.id, globs: t.owns }, w.ctx.scope) as ClaimReply
        : { granted: true };
      if (decision.granted) this.setTask(w, t.id, { status: TaskState.ready, base_commit: base, context, ready_since: w.ctx.scope.now, reason: null });
      else this.setTask(w, t.id, { status: TaskState.waiting_for_files, base_commit: base, context, reason: `waiting_for:${decision.blockedBy.join(',')}` });
    }
    if (ticket.status === TicketState.open && [...tasks.values()].some((t) => t.status !== TaskState.pending)) {
      assertTicketTransition(TicketState.open, TicketState.running, ticket.id);
      w.s.ticket = { ...ticket, status: TicketState.running, updated_at: w.ctx.scope.now, version: ticket.version + 1 };
    }
    await this.assign(w);
    await this.completeIfDone(w);
  }

  /**
   * The pending tasks this message may have made schedulable, by id: every task after a
   * message that can change any of them (`full`), else the tasks it touched and the
   * dependents of those it completed. Keeps a 1000-task ticket from rescanning every task on
   * every completion.
   */
  private candidates(w: Work, full: boolean): TaskRow[] {
    const { tasks } = w.s;
    let picked: TaskRow[];
    if (full) picked = [...tasks.values()];
    else {
      const ids = new Set<string>();
      const completed = new Set<string>();
      for (const id of w.dirty) {
        const t = tasks.get(id)!;
        if (t.status === TaskState.pending) ids.add(id);
        else if (t.status === TaskState.completed) completed.add(id);
      }
      if (completed.size) {
        for (const t of tasks.values()) if (t.status === TaskState.pending && t.depends_on.some((d) => completed.has(d))) ids.add(t.id);
      }
      picked = [...ids].map((id) => tasks.get(id)!);
    }
    return picked.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /**
   * Offers ready tasks to agents: same phase, capabilities ⊇ required, free capacity; fewest
   * running wins, then id. Tasks go in `orderReady` order, but only as many are ordered as
   * there are free slots (`bestReady`): most messages free one slot of a thousand ready tasks.
   */
  private async assign(w: Work): Promise<void> {
    const now = w.ctx.scope.now.getTime();
    const ready = [...w.s.tasks.values()].filter((t) => t.status === TaskState.ready && (t.ready_since?.getTime() ?? 0) <= now);
    if (!ready.length) return;
    const agents = await this.deps.agents.list(w.ctx.scope);
    const load = this.loadOf(w, agents);
    // Tasks with the same requirements have the same candidates: worked out once per message.
    const eligibleFor = new Map<string, AgentRow[]>();
    const candidates: Array<{ id: string; priority: number; readySince: number; retries: number; eligible: AgentRow[] }> = [];
    for (const t of ready) {
      const spec = t.spec as unknown as TaskSpec;
      const needs = `${spec.phase}\u0000${spec.capabilities.join('\u0000')}`;
      let eligible = eligibleFor.get(needs);
      if (!eligible) eligibleFor.set(needs, (eligible = agents.filter((a) => missingFor(spec, a).length === 0)));
      if (eligible.length) {
        candidates.push({ id: t.id, priority: spec.priority ?? 0, readySince: t.ready_since?.getTime() ?? now, retries: t.attempt, eligible });
      } else if (t.reason !== 'no_matching_agent') {
        w.ctx.scope.emit('agent.mismatch', { ticket_id: t.ticket_id, task_id: t.id, phase: spec.phase, required: spec.capabilities, candidates: agents.map((a) => ({ agent_id: a.id, missing: missingFor(spec, a) })) });
        this.setTask(w, t.id, { reason: 'no_matching_agent' }, false);
      }
    }
    const freeSlots = () => agents.reduce((n, a) => n + (a.status === 'healthy' ? Math.max(0, a.capacity - load.get(a.id)!) : 0), 0);
    let remaining = candidates;
    for (let slots = freeSlots(); slots > 0 && remaining.length; slots = freeSlots()) {
      const round = bestReady(remaining, now, slots);
      for (const c of round) {
        const free = c.eligible.filter((a) => load.get(a.id)! < a.capacity).sort((a, b) => load.get(a.id)! - load.get(b.id)! || (a.id < b.id ? -1 : 1));
        const agent = free[0];
        if (!agent) continue; // its agents are busy: a task ending (or the node's sweep) schedules again
        load.set(agent.id, load.get(agent.id)! + 1);
        const t = w.s.tasks.get(c.id)!;
        const spec = t.spec as unknown as TaskSpec;
        const next = this.setTask(w, t.id, { status: TaskState.assigned, attempt: t.attempt + 1, agent_id: agent.id, reason: null });
        w.ctx.scope.send('agent.assign', {
          agent_id: agent.id, ticket_id: t.ticket_id, task_id: t.id, attempt: next.attempt, base: next.base_commit!, branch: taskBranch(t.ticket_id, t.id),
          kind: spec.kind, run: spec.run, owns: t.owns, timeout_ms: spec.timeout_ms, context: next.context ?? {}, ownership: w.s.ticket.ownership,
        });
      }
      // Tasks of this round that found their agents busy stay so for this message: drop them and
      // let the next best have the slots left (they may belong to agents only others can use).
      const done = new Set(round.map((c) => c.id));
      remaining = remaining.filter((c) => !done.has(c.id));
    }
  }

  /**
   * Each agent's running attempts: this ticket's as it knows them (the agent row lags behind
   * our sends), other tickets' from the agent row.
   */
  private loadOf(w: Work, agents: AgentRow[]): Map<string, number> {
    const prefix = `${w.s.ticket.id}/`;
    const load = new Map(agents.map((a) => [a.id, a.running.filter((k) => !k.startsWith(prefix)).length]));
    for (const t of w.s.tasks.values()) {
      if (t.agent_id && ACTIVE.has(t.status) && load.has(t.agent_id)) load.set(t.agent_id, load.get(t.agent_id)! + 1);
    }
    return load;
  }

  /** Every task completed → branch `omoi/<ticket>` at the final head, ticket completed. */
  private async completeIfDone(w: Work): Promise<void> {
    const { ticket, tasks } = w.s;
    if (ticket.status !== TicketState.running || ticket.reason === 'finalizing') return;
    if (![...tasks.values()].every((t) => t.status === TaskState.completed)) return;
    const dependedOn = new Set([...tasks.values()].flatMap((t) => t.depends_on));
    const sinks = [...tasks.values()].filter((t) => !dependedOn.has(t.id)).sort((a, b) => (a.id < b.id ? -1 : 1));
    if (sinks.length === 1) return this.completeTicket(w, sinks[0]!.commit!);
    w.s.ticket = { ...ticket, reason: 'finalizing' };
    const job = {
      ticketId: ticket.id, repoDir: this.repoDir(ticket.id), base: ticket.base_commit!, sources: sinks.map((t) => ({ id: t.id, commit: t.commit! })),
      time: new Date(ticket.created_at), resolverCommand: ticket.resolver_command, checkCommand: ticket.check_command,
    };
    w.ctx.scope.uow.afterCommit(() => this.deps.merges.finalize(job));
  }

  private async completeTicket(w: Work, head: string): Promise<void> {
    await setBranch(this.repoDir(w.s.ticket.id), `omoi/${w.s.ticket.id}`, head); // idempotent: safe before the commit
    this.endTicket(w, TicketState.completed, null, head);
  }

  private async finalize(w: Work, p: P): Promise<void> {
    if (w.s.ticket.status !== TicketState.running) return;
    if (p.head) return this.completeTicket(w, p.head);
    this.endTicket(w, TicketState.failed, `final_merge_failed: ${p.error ?? 'unknown'}`);
  }

  private endTicket(w: Work, status: TicketState, reason: string | null, head: string | null = null): void {
    const t = w.s.ticket;
    assertTicketTransition(t.status as TicketState, status, t.id);
    w.s.ticket = { ...t, status, reason, head: head ?? t.head, updated_at: w.ctx.scope.now, version: t.version + 1 };
    if (status === TicketState.completed) w.ctx.scope.emit('ticket.completed', { ticket_id: t.id, status, head: head! });
    else w.ctx.scope.emit('ticket.ended', { ticket_id: t.id, status, ...(reason ? { reason } : {}) });
  }

  private cancel(state: TicketActorState & { ticket: TicketRow }, reason: string, ctx: ActorContext): TicketActorState {
    assertTicketTransition(state.ticket.status as TicketState, TicketState.cancelled, state.ticket.id);
    const now = ctx.scope.now;
    const ticket = { ...state.ticket, status: TicketState.cancelled, reason, updated_at: now, version: state.ticket.version + 1 };
    const tasks = new Map(state.tasks);
    for (const [id, task] of tasks) {
      if (isTerminalState(task.status as TaskState)) continue;
      if (task.agent_id && ACTIVE.has(task.status)) ctx.scope.send('agent.task_ended', { agent_id: task.agent_id, ticket_id: task.ticket_id, task_id: id, attempt: task.attempt });
      tasks.set(id, { ...task, status: TaskState.cancelled, reason: `ticket cancelled: ${reason}`, updated_at: now, version: task.version + 1 });
      ctx.scope.emit('task.status', { ticket_id: ticket.id, task_id: id, status: TaskState.cancelled, reason });
    }
    this.save(ctx, ticket, [...tasks.values()]);
    ctx.scope.emit('ticket.ended', { ticket_id: ticket.id, status: ticket.status, reason });
    return { ticket, tasks };
  }

  private save(ctx: ActorContext, ticket: TicketRow | undefined, tasks: TaskRow[]): void {
    if (ticket) ctx.scope.uow.upsert(TicketEntity, ['id'], ticket);
    for (const task of tasks) ctx.scope.uow.upsert(TaskEntity, ['ticket_id', 'id'], task);
  }
}

/** What `agent` lacks to run `spec` (empty: it matches): phase, capabilities, health. */
function missingFor(spec: TaskSpec, agent: AgentRow): string[] {
  const missing: string[] = [];
  if (agent.phase !== spec.phase) missing.push(`phase:${spec.phase}`);
  for (const c of spec.capabilities) if (!agent.capabilities.includes(c)) missing.push(`capability:${c}`);
  if (agent.status !== 'healthy') missing.push(`status:healthy (is ${agent.status})`);
  return missing;
}

/**
 * The branch of a task. Not `omoi/<ticket>/<task>`: git cannot hold that beside the ticket
 * branch `omoi/<ticket>` (a ref cannot be both a branch and a folder of branches).
 */
export function taskBranch(ticketId: string, taskId: string): string {
  return `omoi-task/${ticketId}/${taskId}`;
}
