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

/** Bounds of task checks: the command's length, and how much of a failed check's output is kept (its tail, characters). */
export const CHECK_LIMITS = { commandLength: 10_000, outputChars: 4_000 } as const;

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
    check: Type.Optional(Type.String({
      minLength: 1, maxLength: CHECK_LIMITS.commandLength, pattern: '\\S',
      description: 'shell command (tests, linters) run in the task\'s sandbox after the task succeeds, with the same isolation, network rule and environment, within the task\'s `timeout_ms`; non-zero exit or timeout fails the attempt retryably with reason `check_failed`, and the next attempt\'s context gets `previous_attempt` with the check\'s output',
    })),
    acceptance: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100, pattern: '^\\S+$' }), {
      maxItems: 100, uniqueItems: true,
      description: 'ids of the spec\'s acceptance criteria this task verifies through its `check` (`<requirement>.<n>`, the n-th criterion from 1); a spec\'s TASKS gate refuses an id that names no criterion (`unknown_acceptance`); stored and shown',
    })),
  },
  { additionalProperties: false },
);

/** A task check's run, as the agent that ran it reports it (`task.complete`, `task.fail` with reason `check_failed`). */
export function checkRun(description: string) {
  return Type.Object(
    {
      exit_code: Type.Union([Type.Integer(), Type.Null()], { description: 'the check\'s exit code; null: it was killed (timed out)' }),
      timed_out: Type.Optional(Type.Boolean({ description: 'the check ran out of the task\'s `timeout_ms`' })),
      output: Type.Optional(Type.String({ maxLength: 20_000, description: `the end of its output (secrets masked); the ticket keeps its last ${CHECK_LIMITS.outputChars} characters` })),
    },
    { additionalProperties: false, description },
  );
}

/**
 * What one task attempt used, as its agent reports it (`task.complete`, `task.fail`). Every field
 * is optional: an agent reports what it knows. Never a metric label (the model is free text).
 */
export const Usage = Type.Object(
  {
    model: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'the model the agent used, e.g. `claude-sonnet-4`' })),
    input_tokens: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e12 })),
    output_tokens: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e12 })),
    cost_usd: Type.Optional(Type.Number({ minimum: 0, maximum: 1e9, description: 'what the attempt cost, US dollars' })),
    wall_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 1e12, description: 'wall time of the attempt, ms (the local executor measures it)' })),
  },
  { additionalProperties: false },
);

/** A budget limit: cost in US dollars, wall time in ms. */
export const CostLimit = Type.Number({ exclusiveMinimum: 0, maximum: 1e9, description: 'US dollars' });
export const WallLimit = Type.Integer({ minimum: 1, maximum: 1e12, description: 'ms of attempt wall time, summed over attempts' });
export const WarnShare = Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'share of a limit at which `budget.warning` is published (default OMOI_BUDGET_WARN_SHARE, 0.8)' });
export const OnExceeded = Type.Union([Type.Literal('finish'), Type.Literal('stop')], {
  description: 'at 100 %: `finish` lets running attempts finish, `stop` stops them and requeues their tasks for after a raise (default OMOI_BUDGET_ON_EXCEEDED, finish)',
});

/** A budget as given at creation (`ticket.create`, `agent.register`): absent limits are no limit. */
export const Budget = Type.Object(
  { cost_usd: Type.Optional(CostLimit), wall_ms: Type.Optional(WallLimit), warn_share: Type.Optional(WarnShare), on_exceeded: Type.Optional(OnExceeded) },
  { additionalProperties: false },
);
