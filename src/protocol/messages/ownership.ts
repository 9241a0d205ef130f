import { Type } from '@sinclair/typebox';
import { OBSERVERS, event } from '../define.ts';
import { Id, TicketRef } from './common.ts';

export const OwnershipChanged = event({
  type: 'ownership.status',
  description: 'A file claim was granted, queued behind holders (`waiting`), or released. A task that owns nothing claims nothing and has none of these.',
  consumers: OBSERVERS,
  payload: Type.Object({
    ...TicketRef,
    task_id: Id,
    status: Type.Union([Type.Literal('granted'), Type.Literal('waiting'), Type.Literal('released')]),
    globs: Type.Array(Type.String()),
    blocked_by: Type.Optional(Type.Array(Type.String())),
  }),
  example: { ticket_id: 'T1', task_id: 'B', status: 'waiting', globs: ['src/auth/**'], blocked_by: ['A'] },
});
