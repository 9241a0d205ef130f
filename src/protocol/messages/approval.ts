import { Type } from '@sinclair/typebox';
import { ActorType, OBSERVERS, command, event } from '../define.ts';
import { Sha, TicketRef } from './common.ts';

/**
 * Human gates (approve or reject, with a comment, recorded with who and when) and the delivery
 * of a completed ticket's branch (push, then optionally a pull request command).
 */
const route = (p: { ticket_id: string }) => ({ entity: 'ticket' as const, id: p.ticket_id });

/** Where a ticket waits for a person: before its tasks run, and before its branch is pushed. */
export const Gate = Type.Union([Type.Literal('before_execute'), Type.Literal('before_delivery')]);
export const GATES = ['before_execute', 'before_delivery'] as const;

/** A git branch name Omoi will push to (no `..`, `//`, `@{`, leading `-`, trailing `/`, `.` or `.lock`). */
export const BranchName = Type.String({ minLength: 1, maxLength: 250, pattern: '^(?!.*(\\.\\.|//|@\\{|\\.lock$|/$|\\.$))[A-Za-z0-9][A-Za-z0-9._/-]*$' });

/** `ticket.create` `delivery`. */
export const Delivery = Type.Object({
  remote: Type.Optional(Type.String({ minLength: 1, maxLength: 2000, pattern: '^[^-\\s]', description: 'where the branch is pushed: a clone URL or a local path (default: the ticket\'s repository); never starting with `-` (git would take it for an option)' })),
  branch: Type.Optional(BranchName),
  pull_request_command: Type.Optional(Type.String({ minLength: 1, maxLength: 10_000, description: 'run after a successful push (`sh -c`, in the node\'s data directory) with {branch} {base_branch} {title} {ticket_id} {remote} replaced by shell-quoted values; the first http(s) URL it prints is recorded as `pull_request_url`' })),
}, { additionalProperties: false, description: 'push the ticket branch once completed (default branch: `omoi/<ticket>`); forced: the branch is Omoi\'s' });

const Decision = { ...TicketRef, gate: Type.Optional(Gate), comment: Type.Optional(Type.String({ maxLength: 5000 })) };

export const TicketApprove = command({
  type: 'ticket.approve',
  description: 'Approve the gate the ticket waits at (`gate`: when given, it must be the one waiting). `before_execute`: its tasks start; `before_delivery`: its branch is pushed (also after an earlier rejection of that gate). Recorded with who and when. A gate not waiting: `gate_not_awaiting`.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object(Decision, { additionalProperties: false }),
  example: { ticket_id: 'T1', gate: 'before_execute', comment: 'looks right' },
});

export const TicketReject = command({
  type: 'ticket.reject',
  description: 'Reject the gate the ticket waits at, with a comment. `before_execute`: the ticket is cancelled with reason `rejected: <comment>`; `before_delivery`: its delivery is `rejected` (a later `ticket.approve` of that gate still pushes it). A gate not waiting: `gate_not_awaiting`.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({ ...Decision, comment: Type.String({ minLength: 1, maxLength: 5000, description: 'why (required)' }) }, { additionalProperties: false }),
  example: { ticket_id: 'T1', gate: 'before_delivery', comment: 'wrong remote' },
});

export const TicketDeliver = command({
  type: 'ticket.deliver',
  description: 'Push a completed ticket\'s branch again after its delivery `failed` (a new round of retried attempts). Refused unless the delivery failed: `delivery_not_failed`; a ticket without delivery: `no_delivery`.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({ ...TicketRef }, { additionalProperties: false }),
  example: { ticket_id: 'T1' },
});

export const TicketDeliveryReport = command({
  type: 'ticket.delivery_report',
  description: 'Internal (push dispatcher, src/delivery-git): how round `round` of a ticket\'s push ended: `delivered` (with the pull request\'s URL or error) or `failed` after its attempts. Published with id `delivery-report:<ticket>:<round>`; a report of another round is stale and changes nothing.',
  handledBy: ActorType.TicketActor,
  ingress: false,
  route,
  payload: Type.Object({
    ...TicketRef, round: Type.Integer({ minimum: 1 }), outcome: Type.Union([Type.Literal('delivered'), Type.Literal('failed')]),
    commit: Sha, attempts: Type.Integer({ minimum: 0 }),
    error: Type.Optional(Type.String({ maxLength: 20_000 })),
    pull_request_url: Type.Optional(Type.String({ maxLength: 2000 })),
    pull_request_error: Type.Optional(Type.String({ maxLength: 20_000 })),
  }, { additionalProperties: false }),
  example: { ticket_id: 'T1', round: 1, outcome: 'delivered', commit: '0123456789abcdef0123456789abcdef01234567', attempts: 1, pull_request_url: 'https://git.example.com/app/pull/7' },
});

export const TicketAwaitingApproval = event({
  type: 'ticket.awaiting_approval',
  description: 'The ticket waits for a person at `gate` (`omoi approve|reject`).',
  consumers: OBSERVERS,
  payload: Type.Object({ ...TicketRef, gate: Gate }),
  example: { ticket_id: 'T1', gate: 'before_execute' },
});

const Decided = Type.Object({ ...TicketRef, gate: Gate, by: Type.String(), comment: Type.Optional(Type.String()) });

export const TicketApproved = event({
  type: 'ticket.approved',
  description: 'A person approved the ticket at `gate` (`by`: the principal).',
  consumers: OBSERVERS,
  payload: Decided,
  example: { ticket_id: 'T1', gate: 'before_execute', by: 'alice', comment: 'looks right' },
});

export const TicketRejectedAtGate = event({
  type: 'ticket.rejected_at_gate',
  description: 'A person rejected the ticket at `gate` (not `ticket.rejected`, which is a refused command).',
  consumers: OBSERVERS,
  payload: Decided,
  example: { ticket_id: 'T1', gate: 'before_delivery', by: 'alice', comment: 'wrong remote' },
});

export const TicketDelivering = event({
  type: 'ticket.delivering',
  description: 'The ticket\'s head is being pushed (round `round`; `remote` without credentials).',
  consumers: OBSERVERS,
  payload: Type.Object({ ...TicketRef, round: Type.Integer(), head: Sha, remote: Type.String(), branch: Type.String() }),
  example: { ticket_id: 'T1', round: 1, head: '0123456789abcdef0123456789abcdef01234567', remote: '/srv/repos/app', branch: 'omoi/T1' },
});

export const TicketDelivered = event({
  type: 'ticket.delivered',
  description: 'The ticket\'s branch is on its remote at `commit`; `pull_request_url` when the pull request command printed one, `pull_request_error` when it failed (the push stays delivered).',
  consumers: [...OBSERVERS, 'alerts (clears `delivery_failed`)'],
  payload: Type.Object({ ...TicketRef, commit: Sha, attempts: Type.Integer(), pull_request_url: Type.Optional(Type.String()), pull_request_error: Type.Optional(Type.String()) }),
  example: { ticket_id: 'T1', commit: '0123456789abcdef0123456789abcdef01234567', attempts: 1, pull_request_url: 'https://git.example.com/app/pull/7' },
});

export const TicketDeliveryFailed = event({
  type: 'ticket.delivery_failed',
  description: 'The push failed for good after its attempts (`omoi deliver` tries again).',
  consumers: [...OBSERVERS, 'alerts (`delivery_failed`)'],
  payload: Type.Object({ ...TicketRef, attempts: Type.Integer(), error: Type.String() }),
  example: { ticket_id: 'T1', attempts: 8, error: 'push_failed: remote rejected' },
});
