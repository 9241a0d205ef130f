import { Type } from '@sinclair/typebox';
import { SAFE_ID_PATTERN } from '../../ids.ts';
import { MAX_SPEC_ID_LENGTH, PLANNING_PHASES, SPEC_PHASES } from '../../spec/phases.ts';
import { ActorType, OBSERVERS, command, event } from '../define.ts';
import { Delivery } from './approval.ts';
import { Id, Sha } from './common.ts';

/** A spec's id: a safe id short enough for the ticket ids derived from it (`spec-<spec>-requirements-v<n>`). */
const SpecId = Type.String({ minLength: 1, maxLength: MAX_SPEC_ID_LENGTH, pattern: SAFE_ID_PATTERN.source });
const SpecRef = { spec_id: SpecId };
const Phase = Type.Union(SPEC_PHASES.map((p) => Type.Literal(p)));
const PlanningPhase = Type.Union(PLANNING_PHASES.map((p) => Type.Literal(p)));
const Reason = Type.String({ maxLength: 2000 });
/**
 * A spec's human gates: a planning phase (its passed artifact waits for a person; `TASKS` is the
 * gate before EXECUTE), or `before_delivery` (given to the work ticket: its branch is pushed only
 * once approved; needs a delivery).
 */
export const SPEC_DELIVERY_GATE = 'before_delivery';
const SpecGate = Type.Union([...PLANNING_PHASES.map((p) => Type.Literal(p)), Type.Literal(SPEC_DELIVERY_GATE)]);
const Comment = Type.String({ maxLength: 5000 });
/** What a gate found wrong with an artifact: a stable code, a sentence, and where (a JSON path or an id). */
export const GateFinding = Type.Object({ code: Type.String(), message: Type.String(), path: Type.Optional(Type.String()) });
const route = (p: { spec_id: string }) => ({ entity: 'spec' as const, id: p.spec_id });

export const SpecCreate = command({
  type: 'spec.create',
  description: 'Create a spec: a goal on a repository\'s base branch, planned phase by phase (EXPLORE → REQUIREMENTS → DESIGN → TASKS, each a read-only one-task ticket whose JSON result is the phase\'s artifact, checked by the phase\'s gate), then SYNC (one ticket from the TASKS artifact), EXECUTE (that ticket runs), COMPLETE. `planner: command` runs `planner_command` for each phase (a deterministic planner; it reads its instructions from `OMOI_SPEC_CONTEXT`); `agent` gives the instructions as the prompt of an agent task (the node\'s agent template). `delivery` (as `ticket.create`\'s) is passed to the work ticket: its branch is pushed once it completed; the spec is COMPLETE when the work ticket completed, and the push\'s outcome is the work ticket\'s `delivery_status`. A phase whose gate is not met is retried with the gate\'s findings up to `max_phase_attempts` times, then the spec is `blocked`.',
  handledBy: ActorType.SpecActor,
  ingress: true,
  route,
  payload: Type.Object(
    {
      ...SpecRef,
      title: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
      repository: Type.String({ minLength: 1, maxLength: 2000, description: 'local path or clone URL' }),
      base_branch: Type.String({ minLength: 1, maxLength: 250, default: 'main' }),
      goal: Type.String({ minLength: 1, maxLength: 20_000 }),
      planner: Type.Union([Type.Literal('agent'), Type.Literal('command')], { default: 'agent' }),
      planner_command: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000, description: 'the planning command (required with `planner: command`)' })),
      validator_command: Type.Optional(Type.String({
        minLength: 1, maxLength: 9_000, pattern: '\\S',
        description: 'a phase gate of your own: run after each planning run, in its read-only sandbox, with the artifact in `OMOI_RESULT_FILE` and the phase in `OMOI_SPEC_PHASE` (the planning task\'s `check`); non-zero exit → the run is not accepted and the phase retried with its output as a `validator_failed` finding',
      })),
      max_phase_attempts: Type.Integer({ minimum: 1, maximum: 20, default: 3, description: 'runs of one phase (its first and its retries) before the spec is blocked' }),
      approvals: Type.Array(SpecGate, {
        default: [], maxItems: 5, uniqueItems: true,
        description: 'human gates: a planning phase whose passed artifact waits for a person (`awaiting_approval`, then `spec.approve` or `spec.reject`); `TASKS` is the gate before EXECUTE (the plan is approved before any work runs). `before_delivery`: the work ticket\'s branch is pushed only once approved (`ticket.approve`); it needs a delivery (else `delivery_required`)',
      }),
      // The work ticket's `delivery` (the same schema), passed to its `ticket.create` at SYNC.
      delivery: Type.Optional(Delivery),
    },
    { additionalProperties: false },
  ),
  example: { spec_id: 'S1', repository: '/srv/repos/app', base_branch: 'main', goal: 'Export orders as CSV', planner: 'agent', max_phase_attempts: 3, approvals: [] },
});

export const SpecReplan = command({
  type: 'spec.replan',
  description: 'Plan a spec again from a planning phase (any status): the phase runs again (a new version of its artifact) and every later phase after it. The ticket the spec was waiting for (a phase\'s or the work\'s) is cancelled.',
  handledBy: ActorType.SpecActor,
  ingress: true,
  route,
  payload: Type.Object({ ...SpecRef, from_phase: PlanningPhase, reason: Type.Optional(Reason) }, { additionalProperties: false }),
  example: { spec_id: 'S1', from_phase: 'DESIGN', reason: 'use the streaming CSV writer' },
});

const SpecDecision = { ...SpecRef, phase: Type.Optional(PlanningPhase) };

export const SpecApprove = command({
  type: 'spec.approve',
  description: 'Approve the phase the spec waits at (`awaiting_approval`; `phase`: when given, it must be the one waiting): the spec goes on to the next phase, or to SYNC after TASKS. Recorded in `omoi_approval` (entity kind `spec`, gate: the phase) with who and when. A phase not waiting: `gate_not_awaiting`.',
  handledBy: ActorType.SpecActor,
  ingress: true,
  route,
  payload: Type.Object({ ...SpecDecision, comment: Type.Optional(Comment) }, { additionalProperties: false }),
  example: { spec_id: 'S1', phase: 'TASKS', comment: 'the plan is right' },
});

export const SpecReject = command({
  type: 'spec.reject',
  description: 'Reject the phase the spec waits at, with a comment: the phase is planned again (a new run, its attempts counted afresh) with the comment among the findings in its context. Recorded like `spec.approve`. A phase not waiting: `gate_not_awaiting`.',
  handledBy: ActorType.SpecActor,
  ingress: true,
  route,
  payload: Type.Object({ ...SpecDecision, comment: Type.String({ minLength: 1, maxLength: 5000, description: 'why (required; the next run is told)' }) }, { additionalProperties: false }),
  example: { spec_id: 'S1', phase: 'DESIGN', comment: 'use the streaming CSV writer' },
});

export const SpecCancel = command({
  type: 'spec.cancel',
  description: 'Stop a spec: it ends `failed` with the reason, and the ticket it was waiting for is cancelled. `spec.replan` starts it again.',
  handledBy: ActorType.SpecActor,
  ingress: true,
  route,
  payload: Type.Object({ ...SpecRef, reason: Type.Optional(Reason) }, { additionalProperties: false }),
  example: { spec_id: 'S1', reason: 'superseded' },
});

export const SpecTicketEnded = command({
  type: 'spec.ticket_ended',
  description: 'Internal (the TicketActor of a ticket with a `spec_id`): the ticket ended. The SpecActor reads a planning ticket\'s artifact (its task\'s result) and applies the phase\'s gate, or follows the work ticket to COMPLETE. A ticket the spec no longer waits for changes nothing.',
  handledBy: ActorType.SpecActor,
  ingress: false,
  route,
  payload: Type.Object({
    ...SpecRef, ticket_id: Id, phase: Phase,
    status: Type.Union([Type.Literal('completed'), Type.Literal('failed'), Type.Literal('cancelled')]),
    head: Type.Optional(Sha), reason: Type.Optional(Reason),
  }, { additionalProperties: false }),
  example: { spec_id: 'S1', ticket_id: 'spec-S1-explore-v1', phase: 'EXPLORE', status: 'completed', head: '0123456789abcdef0123456789abcdef01234567' },
});

export const SpecTicketResumed = command({
  type: 'spec.ticket_resumed',
  description: 'Internal (the TicketActor of a spec\'s work ticket): the failed ticket is `running` again (`task.retry`, `ticket.resumed`). A spec that failed with it is `executing` again and follows it; any other spec (replanned since, cancelled) changes nothing.',
  handledBy: ActorType.SpecActor,
  ingress: false,
  route,
  payload: Type.Object({ ...SpecRef, ticket_id: Id }, { additionalProperties: false }),
  example: { spec_id: 'S1', ticket_id: 'spec-S1-exec-v1' },
});

export const SpecCreated = event({
  type: 'spec.created',
  description: 'A spec was accepted; its first phase starts.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, repository: Type.String(), goal: Type.String() }),
  example: { spec_id: 'S1', repository: '/srv/repos/app', goal: 'Export orders as CSV' },
});

export const SpecPhaseStarted = event({
  type: 'spec.phase_started',
  description: 'A planning phase runs (its `attempt`-th run since it was last reached), as ticket `ticket_id`.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, phase: Phase, attempt: Type.Integer({ minimum: 1 }), ticket_id: Id }),
  example: { spec_id: 'S1', phase: 'EXPLORE', attempt: 1, ticket_id: 'spec-S1-explore-v1' },
});

export const SpecArtifactRecorded = event({
  type: 'spec.artifact_recorded',
  description: 'A phase\'s artifact (its ticket\'s result) was stored as `version`, with its gate\'s verdict.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, phase: Phase, version: Type.Integer({ minimum: 1 }), passed: Type.Boolean() }),
  example: { spec_id: 'S1', phase: 'REQUIREMENTS', version: 1, passed: true },
});

export const SpecGateFailed = event({
  type: 'spec.gate_failed',
  description: 'A phase\'s gate was not met (no artifact, an invalid one, a failed phase ticket); the phase runs again with these findings, or the spec is blocked.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, phase: Phase, attempt: Type.Integer({ minimum: 1 }), findings: Type.Array(GateFinding) }),
  example: { spec_id: 'S1', phase: 'TASKS', attempt: 1, findings: [{ code: 'cycle', message: 'tasks form a cycle: A → B → A' }] },
});

export const SpecPhasePassed = event({
  type: 'spec.phase_passed',
  description: 'A phase\'s gate was met; the next phase starts (or the spec waits for approval).',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, phase: Phase, version: Type.Integer({ minimum: 1 }) }),
  example: { spec_id: 'S1', phase: 'DESIGN', version: 1 },
});

export const SpecAwaitingApproval = event({
  type: 'spec.awaiting_approval',
  description: 'A passed phase listed in the spec\'s `approvals` waits for a person (`spec.approve`, `spec.reject`).',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, phase: Phase, version: Type.Integer({ minimum: 1 }) }),
  example: { spec_id: 'S1', phase: 'DESIGN', version: 1 },
});

const SpecDecided = Type.Object({ ...SpecRef, phase: PlanningPhase, by: Type.String(), comment: Type.Optional(Type.String()) });

export const SpecApproved = event({
  type: 'spec.approved',
  description: 'A person approved the spec\'s waiting phase (`by`: the principal); the spec goes on.',
  consumers: OBSERVERS,
  payload: SpecDecided,
  example: { spec_id: 'S1', phase: 'TASKS', by: 'alice', comment: 'the plan is right' },
});

export const SpecRejectedAtGate = event({
  type: 'spec.rejected_at_gate',
  description: 'A person rejected the spec\'s waiting phase; it is planned again with the comment as a finding.',
  consumers: OBSERVERS,
  payload: SpecDecided,
  example: { spec_id: 'S1', phase: 'DESIGN', by: 'alice', comment: 'use the streaming CSV writer' },
});

export const SpecBlocked = event({
  type: 'spec.blocked',
  description: 'A phase did not meet its gate in `max_phase_attempts` runs; `reason` names the last findings. `spec.replan` starts it again.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, phase: Phase, reason: Type.String() }),
  example: { spec_id: 'S1', phase: 'TASKS', reason: 'cycle: tasks form a cycle: A → B → A' },
});

export const SpecExecuting = event({
  type: 'spec.executing',
  description: 'SYNC created the work ticket from the TASKS artifact; the spec follows it.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, ticket_id: Id, tasks: Type.Array(Id) }),
  example: { spec_id: 'S1', ticket_id: 'spec-S1-exec-v1', tasks: ['A', 'B'] },
});

export const SpecCompleted = event({
  type: 'spec.completed',
  description: 'The work ticket completed: its branch `omoi/<ticket>` is at `head`.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, ticket_id: Id, head: Type.Optional(Type.String()) }),
  example: { spec_id: 'S1', ticket_id: 'spec-S1-exec-v1', head: '0123456789abcdef0123456789abcdef01234567' },
});

export const SpecFailed = event({
  type: 'spec.failed',
  description: 'The work ticket failed or was cancelled (also by its actor\'s escalation), the spec was cancelled, or the spec\'s own actor escalated.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, reason: Type.String(), ticket_id: Type.Optional(Id) }),
  example: { spec_id: 'S1', reason: 'ticket_failed: task_failed:B', ticket_id: 'spec-S1-exec-v1' },
});

export const SpecResumed = event({
  type: 'spec.resumed',
  description: 'The spec\'s failed work ticket was resumed (`task.retry`): the spec is `executing` again.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, ticket_id: Id }),
  example: { spec_id: 'S1', ticket_id: 'spec-S1-exec-v1' },
});

export const SpecReplanned = event({
  type: 'spec.replanned',
  description: 'A person asked to plan the spec again from `from_phase`.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...SpecRef, from_phase: Phase, reason: Type.Optional(Type.String()) }),
  example: { spec_id: 'S1', from_phase: 'DESIGN', reason: 'use the streaming CSV writer' },
});
