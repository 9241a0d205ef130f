import { ConflictError, NotFoundError, TerminalError } from '../errors.ts';
import { failpoint } from '../failpoints.ts';
import { recordDecision } from '../approvals/record-decision.ts';
import { detachedScope } from '../messaging/detached-scope.ts';
import { emit, send } from '../messaging/typed.ts';
import { SpecArtifactEntity, SpecEntity, TaskEntity, type EntityManager, type SpecArtifactRow, type SpecRow } from '../persistence/index.ts';
import { ActorType, type PayloadOf } from '../protocol/index.ts';
import { SPEC_DELIVERY_GATE } from '../protocol/messages/spec.ts';
import type { TasksArtifact } from '../spec/gates/artifacts.ts';
import { checkGate, describeFindings, type Finding, type GateResult } from '../spec/gates/gate.ts';
import {
  executionTicketId, isPlanningPhase, nextPhase, PLAN_TASK_ID, PLANNING_PHASES, SpecPhase, SpecStatus, type PlanningPhase,
} from '../spec/phases.ts';
import { PHASE_INSTRUCTIONS, planningTicket } from '../spec/planning-ticket.ts';
import type { CommandMail } from './actor-runtime.ts';
import type { ActorContext, EntityBehavior } from './entity-host.ts';

type SpecCommand = 'spec.create' | 'spec.replan' | 'spec.cancel' | 'spec.ticket_ended' | 'spec.ticket_resumed' | 'spec.approve' | 'spec.reject';
const SPEC_COMMANDS: ReadonlySet<string> = new Set<SpecCommand>(['spec.create', 'spec.replan', 'spec.cancel', 'spec.ticket_ended', 'spec.ticket_resumed', 'spec.approve', 'spec.reject']);

/** The longest `run` of a task (`TaskSpec` in src/protocol/messages/common.ts). */
const MAX_RUN_LENGTH = 100_000;

/** The spec's row; `undefined` before `spec.create`. */
export type SpecState = SpecRow | undefined;

/**
 * SpecActor: one per spec, in the spec id's partition. Owns `omoi_spec` and
 * `omoi_spec_artifact` rows of its spec; turns a goal into a ticket:
 *
 *   EXPLORE → REQUIREMENTS → DESIGN → TASKS   (planning: each run a one-task read-only ticket)
 *     → SYNC (the work ticket created from the TASKS artifact) → EXECUTE (follow it) → COMPLETE
 *
 * Invariants:
 * 1. The spec waits for at most one ticket (`current_ticket_id`); a `spec.ticket_ended` of any
 *    other ticket (one cancelled by a replan, a redelivery) changes nothing.
 * 2. A planning ticket's end records one artifact version (its task's JSON result, or none) with
 *    its gate's verdict. Met → the next phase starts (or, for a phase in `approvals`, the spec
 *    waits in `awaiting_approval` for `spec.approve`, which advances, or `spec.reject`, which
 *    runs the phase again with the comment as a finding). Not met → the phase runs again with the findings, up to
 *    `max_phase_attempts` runs, then the spec is `blocked` with the reason.
 * 3. SYNC sends the work ticket's `ticket.create` and moves to EXECUTE in the same transaction
 *    (through the outbox): it is never half done. The ticket id is derived
 *    (`spec-<spec>-exec-v<n>`) and the message id derived from the causing message's, so a
 *    redelivery or a restart re-sends the same create, which JetStream or the TicketActor's
 *    `duplicate_ticket` check drops: exactly one work ticket.
 * 4. COMPLETE only when the work ticket completed; a failed or cancelled one fails the spec.
 *    The spec's `delivery` is the work ticket's: the push follows the ticket's completion and
 *    its outcome is the ticket's `delivery_status` (the spec does not wait for it).
 * 5. Every transition publishes an event (`spec.*`).
 */
export class SpecBehavior implements EntityBehavior<SpecState, CommandMail> {
  readonly type = ActorType.SpecActor;

  constructor(private readonly deps: { messages: { partitions: number; source: string } }) {}

  async hydrate(em: EntityManager, id: string): Promise<SpecState> {
    const row = await em.findOne(SpecEntity, { id }, { disableIdentityMap: true });
    return row ? { ...row } : undefined;
  }

  async handle(spec: SpecState, mail: CommandMail, ctx: ActorContext): Promise<{ state: SpecState }> {
    const { env } = mail;
    if (!SPEC_COMMANDS.has(env.type)) throw new TerminalError('unsupported_command', `SpecActor cannot handle ${env.type}`);
    const type = env.type as SpecCommand;
    if (type === 'spec.create') return { state: await this.create(spec, env.payload as PayloadOf<'spec.create'>, env.source, ctx) };
    if (!spec) throw new NotFoundError('spec', (env.payload as { spec_id: string }).spec_id);
    let next: SpecRow;
    switch (type) {
      case 'spec.ticket_ended': next = await this.ticketEnded(spec, env.payload as PayloadOf<'spec.ticket_ended'>, ctx); break;
      case 'spec.ticket_resumed': next = this.ticketResumed(spec, env.payload as PayloadOf<'spec.ticket_resumed'>, ctx); break;
      case 'spec.replan': next = await this.replan(spec, env.payload as PayloadOf<'spec.replan'>, ctx); break;
      case 'spec.cancel': next = this.cancel(spec, env.payload as PayloadOf<'spec.cancel'>, ctx); break;
      case 'spec.approve': next = await this.approve(spec, env.payload as PayloadOf<'spec.approve'>, env.source, ctx); break;
      case 'spec.reject': next = await this.reject(spec, env.payload as PayloadOf<'spec.reject'>, env.source, ctx); break;
    }
    if (next !== spec) ctx.scope.uow.upsert(SpecEntity, ['id'], next);
    return { state: next };
  }

  /**
   * Escalation: the spec fails, waits for no ticket any more (a redelivered end of the one it
   * waited for must not take it on), and says so (`spec.failed`). `spec.replan` is its way out.
   */
  async markFailed(em: EntityManager, id: string, reason: string): Promise<void> {
    const before = await em.findOne(SpecEntity, { id }, { fields: ['status'] });
    await em.nativeUpdate(SpecEntity, { id }, { status: SpecStatus.failed, reason, current_ticket_id: null, updated_at: new Date() });
    if (!before || before.status === SpecStatus.completed || before.status === SpecStatus.failed) return;
    const { scope, finish } = detachedScope(em, { ...this.deps.messages, entity: 'spec', id, cause: `escalated-spec-${id}-${Date.now()}` });
    emit(scope, 'spec.failed', { spec_id: id, reason: reason.slice(0, 2000) });
    await finish();
  }

  private async create(existing: SpecState, p: PayloadOf<'spec.create'>, source: string, ctx: ActorContext): Promise<SpecRow> {
    if (existing) throw new ConflictError('duplicate_spec', `spec ${JSON.stringify(p.spec_id)} already exists`, { spec_id: p.spec_id });
    if (p.planner === 'command' && !p.planner_command) {
      throw new TerminalError('planner_command_required', 'a spec with `planner: command` needs `planner_command`', { spec_id: p.spec_id });
    }
    // The work ticket's `before_delivery` gate holds a push: without a delivery there is none to hold.
    if (p.approvals.includes(SPEC_DELIVERY_GATE) && !(p as { delivery?: unknown }).delivery) {
      throw new TerminalError('delivery_required', 'the `before_delivery` approval needs a delivery of the work ticket', { spec_id: p.spec_id });
    }
    const now = ctx.scope.now;
    const spec: SpecRow = {
      id: p.spec_id, title: p.title ?? null, repository: p.repository, base_branch: p.base_branch, goal: p.goal,
      status: SpecStatus.planning, phase: SpecPhase.EXPLORE, attempt: 0, max_phase_attempts: p.max_phase_attempts,
      planner: p.planner, planner_command: p.planner_command ?? null, validator_command: p.validator_command ?? null, approvals: [...p.approvals], runs: {},
      current_ticket_id: null, ticket_id: null, head: null, reason: null, created_by: source,
      delivery: p.delivery ?? null, created_at: now, updated_at: now, version: 0,
    };
    emit(ctx.scope, 'spec.created', { spec_id: spec.id, repository: spec.repository, goal: spec.goal });
    const started = await this.startPhase(spec, SpecPhase.EXPLORE, 1, [], ctx);
    ctx.scope.uow.upsert(SpecEntity, ['id'], started);
    return started;
  }

  /** One run of a planning phase: its ticket is created; the spec waits for it. */
  private async startPhase(spec: SpecRow, phase: PlanningPhase, attempt: number, findings: Finding[], ctx: ActorContext, extra: Partial<SpecRow> = {}): Promise<SpecRow> {
    const run = (spec.runs[phase] ?? 0) + 1;
    const artifacts = await this.passedArtifacts(spec.id, ctx);
    const earlier = Object.fromEntries(PLANNING_PHASES.slice(0, PLANNING_PHASES.indexOf(phase)).filter((p) => p in artifacts).map((p) => [p, artifacts[p]]));
    const ticket = planningTicket(spec, {
      spec_id: spec.id, phase, attempt, goal: spec.goal, repository: spec.repository, base_branch: spec.base_branch,
      instructions: PHASE_INSTRUCTIONS[phase], artifacts: earlier, findings,
    }, run);
    // A context too long for a task's `run` (earlier artifacts grew) would make the create
    // invalid: the spec is blocked with the reason instead of its message failing for ever.
    const runLength = ticket.tasks[0]!.run.length;
    if (runLength > MAX_RUN_LENGTH) {
      const reason = `context_too_large: the ${phase} phase's context is ${runLength} characters; a task's run holds at most ${MAX_RUN_LENGTH}`;
      emit(ctx.scope, 'spec.blocked', { spec_id: spec.id, phase, reason });
      return this.changed(spec, ctx, { ...extra, status: SpecStatus.blocked, phase, reason, current_ticket_id: null });
    }
    send(ctx.scope, 'ticket.create', ticket);
    emit(ctx.scope, 'spec.phase_started', { spec_id: spec.id, phase, attempt, ticket_id: ticket.ticket_id });
    return this.changed(spec, ctx, {
      ...extra, status: SpecStatus.planning, phase, attempt, runs: { ...spec.runs, [phase]: run }, current_ticket_id: ticket.ticket_id,
    });
  }

  private async ticketEnded(spec: SpecRow, p: PayloadOf<'spec.ticket_ended'>, ctx: ActorContext): Promise<SpecRow> {
    if (p.ticket_id !== spec.current_ticket_id) return spec; // a ticket the spec no longer waits for
    if (spec.phase === SpecPhase.EXECUTE) return this.executionEnded(spec, p, ctx);
    if (!isPlanningPhase(spec.phase)) return spec;
    const phase = spec.phase;
    const version = spec.runs[phase] ?? 1;
    const plan = await this.planTask(ctx, p.ticket_id);
    const body = p.status === 'completed' ? plan?.result ?? null : null;
    // A failed run's finding says why its task failed (an ownership violation, a timeout, its exit code).
    const why = plan?.reason ?? p.reason;
    const gate: GateResult = p.status === 'completed'
      ? checkGate(phase, body, await this.passedArtifacts(spec.id, ctx))
      : { passed: false, findings: [runFailure(phase, p, why)] };
    const artifact: SpecArtifactRow = { spec_id: spec.id, phase, version, ticket_id: p.ticket_id, body: body ?? null, gate, created_at: ctx.scope.now };
    ctx.scope.uow.upsert(SpecArtifactEntity, ['spec_id', 'phase', 'version'], artifact);
    emit(ctx.scope, 'spec.artifact_recorded', { spec_id: spec.id, phase, version, passed: gate.passed });
    if (!gate.passed) {
      emit(ctx.scope, 'spec.gate_failed', { spec_id: spec.id, phase, attempt: spec.attempt, findings: gate.findings });
      if (spec.attempt < spec.max_phase_attempts) return this.startPhase(spec, phase, spec.attempt + 1, gate.findings, ctx);
      const reason = `${phase} gate not met after ${spec.attempt} runs: ${describeFindings(gate.findings)}`;
      emit(ctx.scope, 'spec.blocked', { spec_id: spec.id, phase, reason });
      return this.changed(spec, ctx, { status: SpecStatus.blocked, reason, current_ticket_id: null });
    }
    emit(ctx.scope, 'spec.phase_passed', { spec_id: spec.id, phase, version });
    // A phase in `approvals` waits for a person: `spec.approve` advances, `spec.reject` re-plans it.
    if (spec.approvals.includes(phase)) {
      emit(ctx.scope, 'spec.awaiting_approval', { spec_id: spec.id, phase, version });
      return this.changed(spec, ctx, { status: SpecStatus.awaiting_approval, current_ticket_id: null });
    }
    return this.advance(spec, phase, ctx);
  }

  /** The phase after a passed `phase`: the next planning phase, or SYNC after TASKS. */
  private async advance(spec: SpecRow, phase: PlanningPhase, ctx: ActorContext): Promise<SpecRow> {
    const next = nextPhase(phase);
    if (isPlanningPhase(next)) return this.startPhase(spec, next, 1, [], ctx);
    return this.sync(spec, ctx);
  }

  /** SYNC: the one work ticket, made of the passed TASKS artifact; then EXECUTE follows it. */
  private async sync(spec: SpecRow, ctx: ActorContext): Promise<SpecRow> {
    const plan = (await this.passedArtifacts(spec.id, ctx)).TASKS as TasksArtifact;
    const run = (spec.runs[SpecPhase.SYNC] ?? 0) + 1;
    const ticketId = executionTicketId(spec.id, run);
    const tasks = plan.tasks.map(({ requirements: _served, ...task }) => task);
    send(ctx.scope, 'ticket.create', {
      ticket_id: ticketId, title: spec.title ?? `spec ${spec.id}: ${spec.goal.slice(0, 400)}`,
      repository: spec.repository, base_branch: spec.base_branch, ownership: plan.ownership ?? 'strict', tasks,
      ...(plan.resolver_command ? { resolver_command: plan.resolver_command } : {}),
      ...(plan.check_command ? { check_command: plan.check_command } : {}),
      ...(spec.approvals.includes(SPEC_DELIVERY_GATE) ? { approvals: [SPEC_DELIVERY_GATE] } : {}),
      ...(spec.delivery ? { delivery: spec.delivery } : {}),
      spec_id: spec.id, spec_phase: SpecPhase.EXECUTE,
    } as PayloadOf<'ticket.create'>);
    failpoint('spec.sync'); // a test's kill -9 in the middle of SYNC: nothing of it is committed
    emit(ctx.scope, 'spec.phase_passed', { spec_id: spec.id, phase: SpecPhase.SYNC, version: run });
    emit(ctx.scope, 'spec.executing', { spec_id: spec.id, ticket_id: ticketId, tasks: tasks.map((t) => t.id) });
    return this.changed(spec, ctx, {
      status: SpecStatus.executing, phase: SpecPhase.EXECUTE, attempt: 1, runs: { ...spec.runs, [SpecPhase.SYNC]: run },
      ticket_id: ticketId, current_ticket_id: ticketId, reason: null,
    });
  }

  private executionEnded(spec: SpecRow, p: PayloadOf<'spec.ticket_ended'>, ctx: ActorContext): SpecRow {
    if (p.status === 'completed') {
      emit(ctx.scope, 'spec.completed', { spec_id: spec.id, ticket_id: p.ticket_id, ...(p.head ? { head: p.head } : {}) });
      return this.changed(spec, ctx, { status: SpecStatus.completed, phase: SpecPhase.COMPLETE, head: p.head ?? null, current_ticket_id: null, reason: null });
    }
    const reason = `ticket_${p.status}${p.reason ? `: ${p.reason}` : ''}`;
    emit(ctx.scope, 'spec.failed', { spec_id: spec.id, reason, ticket_id: p.ticket_id });
    return this.changed(spec, ctx, { status: SpecStatus.failed, reason, current_ticket_id: null });
  }

  /** The failed work ticket runs again (`task.retry`): a spec that failed with it follows it again. */
  private ticketResumed(spec: SpecRow, p: PayloadOf<'spec.ticket_resumed'>, ctx: ActorContext): SpecRow {
    if (spec.status !== SpecStatus.failed || spec.phase !== SpecPhase.EXECUTE || spec.ticket_id !== p.ticket_id) return spec;
    if (spec.reason?.startsWith('cancelled')) return spec; // a person stopped the spec: it stays stopped
    emit(ctx.scope, 'spec.resumed', { spec_id: spec.id, ticket_id: p.ticket_id });
    return this.changed(spec, ctx, { status: SpecStatus.executing, current_ticket_id: p.ticket_id, reason: null });
  }

  /** `spec.replan`: the ticket waited for is cancelled; `from_phase` runs again, told why. */
  private async replan(spec: SpecRow, p: PayloadOf<'spec.replan'>, ctx: ActorContext): Promise<SpecRow> {
    this.cancelWaitedTicket(spec, `spec ${spec.id} replanned from ${p.from_phase}`, ctx);
    emit(ctx.scope, 'spec.replanned', { spec_id: spec.id, from_phase: p.from_phase, ...(p.reason ? { reason: p.reason } : {}) });
    const findings: Finding[] = p.reason ? [{ code: 'replan', message: p.reason }] : [];
    return this.startPhase(spec, p.from_phase, 1, findings, ctx, { reason: null, head: null });
  }

  /** `spec.approve`: the waiting phase is accepted; the spec goes on as if it had not waited. */
  private async approve(spec: SpecRow, p: PayloadOf<'spec.approve'>, source: string, ctx: ActorContext): Promise<SpecRow> {
    const phase = this.waitingPhase(spec, p.phase);
    const by = recordDecision(ctx.scope, { entity_kind: 'spec', entity_id: spec.id, gate: phase, decision: 'approved', comment: p.comment, source });
    emit(ctx.scope, 'spec.approved', { spec_id: spec.id, phase, by, ...(p.comment ? { comment: p.comment } : {}) });
    return this.advance(spec, phase, ctx);
  }

  /** `spec.reject`: the waiting phase runs again (attempts counted afresh), told the person's comment. */
  private async reject(spec: SpecRow, p: PayloadOf<'spec.reject'>, source: string, ctx: ActorContext): Promise<SpecRow> {
    const phase = this.waitingPhase(spec, p.phase);
    const by = recordDecision(ctx.scope, { entity_kind: 'spec', entity_id: spec.id, gate: phase, decision: 'rejected', comment: p.comment, source });
    emit(ctx.scope, 'spec.rejected_at_gate', { spec_id: spec.id, phase, by, comment: p.comment });
    return this.startPhase(spec, phase, 1, [{ code: 'rejected', message: `rejected by ${by}: ${p.comment}` }], ctx);
  }

  /** The phase waiting for a decision (the one named must be it). @throws ConflictError `gate_not_awaiting`. */
  private waitingPhase(spec: SpecRow, asked: PlanningPhase | undefined): PlanningPhase {
    const waiting = spec.status === SpecStatus.awaiting_approval && isPlanningPhase(spec.phase) ? spec.phase : undefined;
    if (waiting && (!asked || asked === waiting)) return waiting;
    throw new ConflictError('gate_not_awaiting', `spec ${JSON.stringify(spec.id)} is not waiting for approval${asked ? ` of ${asked}` : ''} (status ${spec.status}, phase ${spec.phase})`, {
      spec_id: spec.id, phase: asked ?? null, status: spec.status,
    });
  }

  private cancel(spec: SpecRow, p: PayloadOf<'spec.cancel'>, ctx: ActorContext): SpecRow {
    if (spec.status === SpecStatus.completed || spec.status === SpecStatus.failed) {
      throw new ConflictError('spec_ended', `spec ${spec.id} already ${spec.status}`, { spec_id: spec.id, status: spec.status });
    }
    this.cancelWaitedTicket(spec, `spec ${spec.id} cancelled`, ctx);
    const reason = `cancelled${p.reason ? `: ${p.reason}` : ''}`;
    emit(ctx.scope, 'spec.failed', { spec_id: spec.id, reason });
    return this.changed(spec, ctx, { status: SpecStatus.failed, reason, current_ticket_id: null });
  }

  private cancelWaitedTicket(spec: SpecRow, reason: string, ctx: ActorContext): void {
    if (spec.current_ticket_id) send(ctx.scope, 'ticket.cancel', { ticket_id: spec.current_ticket_id, reason });
  }

  /** A planning ticket's task: its JSON result is the phase's artifact, its reason why a run failed. */
  private async planTask(ctx: ActorContext, ticketId: string): Promise<{ result: unknown; reason: string | null } | null> {
    return ctx.scope.em.findOne(TaskEntity, { ticket_id: ticketId, id: PLAN_TASK_ID }, { disableIdentityMap: true, fields: ['result', 'reason'] });
  }

  /** The latest passed artifact of each planning phase (artifacts written earlier in this round included). */
  private async passedArtifacts(specId: string, ctx: ActorContext): Promise<Partial<Record<PlanningPhase, unknown>>> {
    await ctx.scope.uow.flush(SpecArtifactEntity);
    const rows = await ctx.scope.em.find(SpecArtifactEntity, { spec_id: specId }, { disableIdentityMap: true, orderBy: { version: 'asc' } });
    const latest: Partial<Record<PlanningPhase, unknown>> = {};
    for (const row of rows) if (row.gate.passed && isPlanningPhase(row.phase)) latest[row.phase] = row.body;
    return latest;
  }

  private changed(spec: SpecRow, ctx: ActorContext, patch: Partial<SpecRow>): SpecRow {
    return { ...spec, ...patch, updated_at: ctx.scope.now, version: spec.version + 1 };
  }
}

/** The finding of a planning run that did not complete: the validator refused its artifact, or its task failed (why). */
function runFailure(phase: PlanningPhase, p: PayloadOf<'spec.ticket_ended'>, why: string | null | undefined): Finding {
  if (why && /\bcheck_failed\b/.test(why)) {
    return { code: 'validator_failed', message: `the validator refused the ${phase} artifact: ${why.replace(/^.*?check_failed:\s*/s, '').slice(0, 2000)}` };
  }
  return { code: `phase_ticket_${p.status}`, message: `the ${phase} ticket ${p.ticket_id} ${p.status}${why ? `: ${why.slice(0, 2000)}` : ''}` };
}
