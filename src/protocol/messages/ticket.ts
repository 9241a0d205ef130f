import { Type } from '@sinclair/typebox';
import { ActorType, OBSERVERS, command, event } from '../define.ts';
import { Budget, Id, TaskSpec, TicketRef } from './common.ts';
import { Delivery, Gate } from './approval.ts';

const route = (p: { ticket_id: string }) => ({ entity: 'ticket' as const, id: p.ticket_id });

export const TicketCreate = command({
  type: 'ticket.create',
  description: 'Create a ticket: a repository, a base branch and a DAG of tasks. Cycles, unknown dependencies and duplicate ids are rejected.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object(
    {
      ticket_id: Id,
      title: Type.String({ minLength: 1, maxLength: 500 }),
      repository: Type.String({ minLength: 1, maxLength: 2000, description: 'local path or clone URL' }),
      base_branch: Type.String({ minLength: 1, maxLength: 250, default: 'main' }),
      tasks: Type.Array(TaskSpec, { minItems: 1, maxItems: 5000 }),
      ownership: Type.Union([Type.Literal('strict'), Type.Literal('lenient')], { default: 'strict' }),
      resolver_command: Type.Optional(Type.String({ maxLength: 10_000 })),
      check_command: Type.Optional(Type.String({ maxLength: 10_000 })),
      max_conflicts_auto_resolve: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000, description: 'A merge step whose files still conflicted after the built-in rules would bring the files handed to `resolver_command` in this merge above this many is not handed to it: the join is blocked with `too_many_conflicts` and the files listed, for a person (`merge.resolve`). 0: every conflict goes to a person. Default: `OMOI_MAX_CONFLICTS_AUTO_RESOLVE`.' })),
      network: Type.Optional(Type.Boolean({ default: true, description: 'false: the ticket\'s task, resolver and check commands run with no network (a network namespace of their own: loopback only); needs bubblewrap' })),
      budget: Type.Optional(Budget),
      approvals: Type.Optional(Type.Array(Gate, { uniqueItems: true, maxItems: 2, description: 'human gates: `before_execute` (nothing runs until approved), `before_delivery` (nothing is pushed until approved; needs `delivery`, else `delivery_required`)' })),
      delivery: Type.Optional(Delivery),
      spec_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'set by a SpecActor: the spec this ticket runs a phase of (told `spec.ticket_ended` when the ticket ends)' })),
      spec_phase: Type.Optional(Type.String({ minLength: 1, maxLength: 20, description: 'with `spec_id`: the phase (`EXPLORE` … `TASKS`, or `EXECUTE` for the work)' })),
    },
    { additionalProperties: false },
  ),
  example: {
    ticket_id: 'T1',
    title: 'Add feature X and Y',
    repository: '/srv/repos/app',
    base_branch: 'main',
    ownership: 'strict',
    budget: { cost_usd: 5, wall_ms: 3600000, warn_share: 0.8, on_exceeded: 'finish' },
    tasks: [
      { id: 'A', depends_on: [], owns: ['setup/**'], capabilities: [], phase: 'execute', priority: 0, kind: 'command', run: 'make setup', max_retries: 2, timeout_ms: 600000 },
      { id: 'B', depends_on: ['A'], owns: ['src/x/**'], capabilities: [], phase: 'execute', priority: 0, kind: 'command', run: 'make x', max_retries: 2, timeout_ms: 600000 },
    ],
  },
});

export const TicketCancel = command({
  type: 'ticket.cancel',
  description: 'Cancel a ticket: running tasks are stopped, claims released, the ticket ends `cancelled`.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({ ...TicketRef, reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }),
  example: { ticket_id: 'T1', reason: 'superseded' },
});

const TicketEvent = Type.Object({ ...TicketRef, status: Type.String(), reason: Type.Optional(Type.String()), head: Type.Optional(Type.String()) });

export const TicketCreated = event({
  type: 'ticket.created',
  description: 'A ticket was accepted and its DAG recorded.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...TicketRef, title: Type.String(), tasks: Type.Array(Id), joins: Type.Array(Id) }),
  example: { ticket_id: 'T1', title: 'Add feature X and Y', tasks: ['A', 'B'], joins: [] },
});

export const TicketCompleted = event({
  type: 'ticket.completed',
  description: 'Every task is done; the ticket branch `omoi/<ticket>` points at the final head.',
  consumers: OBSERVERS,
  payload: TicketEvent,
  example: { ticket_id: 'T1', status: 'completed', head: '0123456789abcdef0123456789abcdef01234567' },
});

export const TicketEnded = event({
  type: 'ticket.ended',
  description: 'The ticket ended without completing: `cancelled` or `failed`, with the reason (also when its actor escalated: `escalated after N restarts: …`).',
  consumers: OBSERVERS,
  payload: TicketEvent,
  example: { ticket_id: 'T1', status: 'cancelled', reason: 'superseded' },
});

export const TicketResumed = event({
  type: 'ticket.resumed',
  description: 'A `failed` ticket is `running` again: a person retried the task it failed for (`task.retry`) and no other task of it is failed.',
  consumers: [...OBSERVERS, 'alerts (clears `ticket_failed`)'],
  payload: Type.Object({ ...TicketRef, status: Type.String(), task_id: Id, reason: Type.Optional(Type.String()) }),
  example: { ticket_id: 'T1', status: 'running', task_id: 'B', reason: 'the flaky registry is back' },
});

export const TicketRejected = event({
  type: 'ticket.rejected',
  description: 'A command of a ticket (one its TicketActor handles and whose payload names the ticket) was refused (validation, cycle, duplicate id, illegal transition); published beside the `error.rejected` event of the dead letter, with the same code and reason.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...TicketRef, command: Type.String(), code: Type.String(), reason: Type.String(), details: Type.Optional(Type.Unknown()) }),
  example: { ticket_id: 'T1', command: 'ticket.create', code: 'cycle', reason: 'tasks form a cycle: A → B → A', details: { cycle: ['A', 'B', 'A'] } },
});

export const TicketWake = command({
  type: 'ticket.wake',
  description: 'Internal (recovery, stuck-task sweep): re-run scheduling of the ticket and restart the merges of its joins in `merging`. Published with id `wake:<ticket>:<epoch>` when a node acquires the partition.',
  handledBy: ActorType.TicketActor,
  ingress: false,
  route,
  payload: Type.Object({ ...TicketRef }, { additionalProperties: false }),
  example: { ticket_id: 'T1' },
});

export const TicketFinalize = command({
  type: 'ticket.finalize',
  description: 'Internal: the merge of a ticket\'s several sink tasks finished; `head` is the final commit (or `error` names why the sinks could not be merged).',
  handledBy: ActorType.TicketActor,
  ingress: false,
  route,
  payload: Type.Object({ ...TicketRef, head: Type.Optional(Type.String({ pattern: '^[0-9a-f]{40}$' })), error: Type.Optional(Type.String({ maxLength: 20_000 })) }, { additionalProperties: false }),
  example: { ticket_id: 'T1', head: '0123456789abcdef0123456789abcdef01234567' },
});

export const TicketStall = command({
  type: 'ticket.stall',
  description: 'Internal (stall sweep of the node supervisor): an open or running ticket (and its tasks) has not changed for `OMOI_TICKET_STALL_MS`. The TicketActor raises `ticket.stalled` once per stall: again only after a change.',
  handledBy: ActorType.TicketActor,
  ingress: false,
  route,
  payload: Type.Object({
    ...TicketRef, idle_ms: Type.Integer({ minimum: 0 }),
    since: Type.String({ minLength: 1, maxLength: 40, description: 'the ticket\'s last change the sweep saw (of its row or a task): a later one makes the command stale' }),
  }, { additionalProperties: false }),
  example: { ticket_id: 'T1', idle_ms: 3600500, since: '2026-12-02T11:00:00.000Z' },
});

export const TicketStalled = event({
  type: 'ticket.stalled',
  description: 'A non-terminal ticket whose state (its own or any task\'s) has not changed for `OMOI_TICKET_STALL_MS`; once per stall (again only after a change).',
  consumers: [...OBSERVERS, 'alerts (`ticket_stalled`)'],
  payload: Type.Object({ ...TicketRef, status: Type.String(), idle_ms: Type.Integer({ minimum: 0 }) }),
  example: { ticket_id: 'T1', status: 'running', idle_ms: 3600500 },
});
