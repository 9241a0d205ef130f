import { Type } from '@sinclair/typebox';
import { Id } from '../envelope.ts';
import { MAX_ID_LENGTH, SAFE_ID_PATTERN } from '../../ids.ts';

export { Id };
/** A join's id: `join-<continuation task id>` (src/dag/joins.ts), so five characters longer than a task id. */
export const JoinId = Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH + 'join-'.length, pattern: SAFE_ID_PATTERN.source });
export const TicketRef = { ticket_id: Id };
export const Glob = Type.String({ minLength: 1, maxLength: 512 });
export const Sha = Type.String({ pattern: '^[0-9a-f]{40}$' });
export const Synthesis = Type.Union([Type.Literal('combine'), Type.Literal('union'), Type.Literal('intersection')]);

/** A task as submitted (ticket creation, split, add). Defaults are filled at the edge. */
export const TaskSpec = Type.Object(
  {
    id: Id,
    title: Type.Optional(Type.String({ maxLength: 500 })),
    depends_on: Type.Array(Id, { default: [], maxItems: 1000 }),
    owns: Type.Array(Glob, { default: [], maxItems: 200 }),
    capabilities: Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { default: [], maxItems: 50 }),
    phase: Type.String({ minLength: 1, maxLength: 50, default: 'execute' }),
    priority: Type.Integer({ minimum: -1000, maximum: 1000, default: 0 }),
    kind: Type.Union([Type.Literal('command'), Type.Literal('agent')], { default: 'command' }),
    run: Type.String({ minLength: 1, maxLength: 100_000, description: 'shell command (kind=command) or agent prompt (kind=agent)' }),
    max_retries: Type.Integer({ minimum: 0, maximum: 100, default: 2 }),
    timeout_ms: Type.Integer({ minimum: 100, maximum: 86_400_000, default: 600_000 }),
    synthesis: Type.Optional(Synthesis),
  },
  { additionalProperties: false },
);
