import { Type } from '@sinclair/typebox';
import { ActorType, OBSERVERS, command, event } from '../define.ts';
import { CostLimit, Id, OnExceeded, TicketRef, WallLimit, WarnShare } from './common.ts';

/**
 * Budgets of tickets and agents (cost and wall time). A change names only what it changes:
 * an absent field is kept, `null` clears it (no limit, or back to the default).
 */
const BudgetChange = {
  cost_usd: Type.Optional(Type.Union([CostLimit, Type.Null()])),
  wall_ms: Type.Optional(Type.Union([WallLimit, Type.Null()])),
  warn_share: Type.Optional(Type.Union([WarnShare, Type.Null()])),
  on_exceeded: Type.Optional(Type.Union([OnExceeded, Type.Null()])),
};
const Scope = Type.Union([Type.Literal('ticket'), Type.Literal('agent')]);
const Measure = Type.Union([Type.Literal('cost_usd'), Type.Literal('wall_ms')]);

export const TicketSetBudget = command({
  type: 'ticket.set_budget',
  description: 'Raise, change or clear a ticket\'s budget (absent fields are kept, `null` clears one). A ticket over budget starts no attempt until a change brings it under; then its ready tasks are scheduled again. Publishes `budget.changed`.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route: (p: { ticket_id: string }) => ({ entity: 'ticket' as const, id: p.ticket_id }),
  payload: Type.Object({ ...TicketRef, ...BudgetChange }, { additionalProperties: false }),
  example: { ticket_id: 'T1', cost_usd: 5, wall_ms: 600000 },
});

export const AgentSetBudget = command({
  type: 'agent.set_budget',
  description: 'Raise, change or clear an agent\'s budget (absent fields are kept, `null` clears one). An agent over budget is offered no task until a change brings it under (`on_exceeded` is a ticket\'s policy; an agent ignores it). Publishes `budget.changed`.',
  handledBy: ActorType.AgentActor,
  ingress: true,
  route: (p: { agent_id: string }) => ({ entity: 'agent' as const, id: p.agent_id }),
  payload: Type.Object({ agent_id: Id, ...BudgetChange }, { additionalProperties: false }),
  example: { agent_id: 'agent-7', cost_usd: 50 },
});

export const AgentUsage = command({
  type: 'agent.usage',
  description: 'Internal: a ticket recorded the usage of an attempt its agent ran (once per attempt, sent with the attempt\'s live report); it is added to the agent\'s spend.',
  handledBy: ActorType.AgentActor,
  ingress: false,
  route: (p: { agent_id: string }) => ({ entity: 'agent' as const, id: p.agent_id }),
  payload: Type.Object({
    agent_id: Id, ticket_id: Id, task_id: Id, attempt: Type.Integer({ minimum: 1 }),
    cost_usd: Type.Number({ minimum: 0 }), wall_ms: Type.Integer({ minimum: 0 }), input_tokens: Type.Integer({ minimum: 0 }), output_tokens: Type.Integer({ minimum: 0 }),
  }, { additionalProperties: false }),
  example: { agent_id: 'agent-7', ticket_id: 'T1', task_id: 'B', attempt: 1, cost_usd: 0.42, wall_ms: 95000, input_tokens: 12000, output_tokens: 3400 },
});

const Crossing = Type.Object({
  scope: Scope,
  id: Type.String({ description: 'the ticket\'s or the agent\'s id' }),
  ticket_id: Type.Optional(Type.String({ description: 'the ticket whose attempt crossed the line' })),
  measure: Measure,
  spent: Type.Number(),
  limit: Type.Number(),
  share: Type.Number({ description: 'spent / limit' }),
});

export const BudgetWarning = event({
  type: 'budget.warning',
  description: 'A ticket\'s or an agent\'s spend crossed the warn share of one of its limits (once per limit value: a changed limit can warn again).',
  consumers: [...OBSERVERS, 'alerts (maps it to a warning alert)'],
  payload: Crossing,
  example: { scope: 'ticket', id: 'T1', ticket_id: 'T1', measure: 'cost_usd', spent: 4.1, limit: 5, share: 0.82 },
});

export const BudgetExceeded = event({
  type: 'budget.exceeded',
  description: 'A ticket\'s or an agent\'s spend reached 100 % of one of its limits (once per limit value): the ticket starts no new attempt (its running ones finish, or are stopped with `on_exceeded: stop`), the agent is offered no task, until `ticket.set_budget` / `agent.set_budget` raises it.',
  consumers: [...OBSERVERS, 'alerts (maps it to an alert)'],
  payload: Crossing,
  example: { scope: 'ticket', id: 'T1', ticket_id: 'T1', measure: 'wall_ms', spent: 612000, limit: 600000, share: 1.02 },
});

export const BudgetChanged = event({
  type: 'budget.changed',
  description: 'A ticket\'s or an agent\'s budget was changed; `exceeded` says whether it is still over (false clears a budget alert).',
  consumers: [...OBSERVERS, 'alerts (clears a budget alert)'],
  payload: Type.Object({
    scope: Scope, id: Type.String(), ticket_id: Type.Optional(Type.String()),
    cost_usd: Type.Union([Type.Number(), Type.Null()]), wall_ms: Type.Union([Type.Number(), Type.Null()]), exceeded: Type.Boolean(),
  }),
  example: { scope: 'ticket', id: 'T1', ticket_id: 'T1', cost_usd: 10, wall_ms: 600000, exceeded: false },
});
