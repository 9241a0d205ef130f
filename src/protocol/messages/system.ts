import { Type } from '@sinclair/typebox';
import { OBSERVERS, event } from '../define.ts';

export const InputRejected = event({
  type: 'error.rejected',
  description: 'Input that could not be accepted (malformed JSON, schema violation, unknown type or id, oversize, illegal transition), published on `omoi.errors.<code>`; a dead-letter row holds the original.',
  consumers: [...OBSERVERS, '`omoi dlq list`'],
  payload: Type.Object({
    code: Type.String(),
    reason: Type.String(),
    subject: Type.String(),
    message_id: Type.Optional(Type.String()),
    type: Type.Optional(Type.String()),
    path: Type.Optional(Type.String({ description: 'JSON pointer of the offending field' })),
    dead_letter_id: Type.Optional(Type.Integer()),
  }),
  example: { code: 'schema_violation', reason: '/payload/attempt: Expected integer', subject: 'omoi.in.task.complete', type: 'task.complete', path: '/payload/attempt', dead_letter_id: 12 },
});

export const SupervisionEvent = event({
  type: 'actor.supervision',
  description: 'An actor crashed, was restarted (after backoff), or exhausted its restarts and escalated (its entity is marked failed). Also kept in the event log (`omoi_event`, best effort) for `GET /api/supervision`.',
  consumers: OBSERVERS,
  payload: Type.Object({
    actor: Type.String(),
    entity: Type.String(),
    node_id: Type.Optional(Type.String({ description: 'the node whose actor it was (absent from nodes older than this field)' })),
    action: Type.Union([Type.Literal('crashed'), Type.Literal('restarted'), Type.Literal('escalated')]),
    error: Type.Optional(Type.String()),
    restarts: Type.Integer(),
    backoff_ms: Type.Optional(Type.Integer()),
  }),
  example: { actor: 'TicketActor', entity: 'T1', node_id: 'host-7070', action: 'restarted', error: 'boom', restarts: 1, backoff_ms: 100 },
});

export const NodeStatus = event({
  type: 'node.status',
  description: 'A node `started`, is `stopping`, or the partitions it holds changed (`partitions`: after a lease heartbeat that took, gave back or lost some); `partitions` lists what it holds.',
  consumers: OBSERVERS,
  payload: Type.Object({ node_id: Type.String(), status: Type.String(), partitions: Type.Array(Type.Integer()) }),
  example: { node_id: 'host-7070', status: 'started', partitions: [0, 1, 2] },
});

export const NodeLost = event({
  type: 'node.lost',
  description: 'A node stopped heartbeating without releasing its partitions; another node (`by`) took them over when their leases expired. Raises a `node_lost` alert, resolved when the node starts again (`node.status` started).',
  consumers: [...OBSERVERS, 'alerts (`node_lost`)'],
  payload: Type.Object({ node_id: Type.String(), by: Type.String(), partitions: Type.Array(Type.Integer()) }),
  example: { node_id: 'host-7070', by: 'host-7071', partitions: [3, 4, 5] },
});

export const DeadLetterClosed = event({
  type: 'dead_letter.closed',
  description: 'An operator retried or discarded a dead letter (`omoi dlq`, `/api/dlq`); `open_with_code` counts the dead letters of the same code still open (at 0 the `dead_letter` alert of that code resolves). Published when the acting process reaches NATS (`omoi dlq discard` without NATS does not).',
  consumers: [...OBSERVERS, 'alerts (`dead_letter`)'],
  payload: Type.Object({ dead_letter_id: Type.Integer(), code: Type.String(), status: Type.Union([Type.Literal('retried'), Type.Literal('discarded')]), open_with_code: Type.Integer({ minimum: 0 }) }),
  example: { dead_letter_id: 12, code: 'schema_violation', status: 'discarded', open_with_code: 0 },
});
