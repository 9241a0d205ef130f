import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors.ts';
import { ApprovalEntity, AttemptUsageEntity, JoinEntity, JoinSourceEntity, MergeAttemptEntity, TaskEntity, TicketEntity, type JoinSourceRow } from '../../persistence/index.ts';
import { Id, JoinId } from '../../protocol/index.ts';
import { Accepted, commandRoute, errorAnswer, Limit, type LimitBounds, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { newTicketId } from '../ids.ts';
import { plainRow as plain } from '../plain-row.ts';
import { redactUrl } from '../../redact.ts';
import { bodyObject, paramId, paramString, queryInt, queryString } from '../request-input.ts';
import { submitCommand } from '../submit-command.ts';

const LIMIT: LimitBounds = { min: 1, max: 1000, default: 100 };

/** Task commands reachable as `POST /api/tickets/:id/tasks/:task/<action>`. */
const TASK_ACTIONS = {
  complete: { type: 'task.complete', summary: 'Report a task attempt done (as its agent would)' },
  fail: { type: 'task.fail', summary: 'Report a task attempt failed (as its agent would)' },
  cancel: { type: 'task.cancel', summary: 'Cancel one task' },
  split: { type: 'task.split', summary: 'Split a running task into parallel tasks and a continuation' },
  retry: { type: 'task.retry', summary: 'Retry a task that failed (its retries exhausted) or was cancelled' },
} as const;

const TicketParams = Type.Object({ id: Id });
const tags = ['tickets'];

const create = commandRoute('ticket.create', { optional: ['ticket_id'] });
const cancel = commandRoute('ticket.cancel', { params: { ticket_id: 'id' } });
const setBudget = commandRoute('ticket.set_budget', { params: { ticket_id: 'id' } });
const addTask = commandRoute('task.add', { params: { ticket_id: 'id' }, bodyAt: 'task' });
const resolveJoin = commandRoute('merge.resolve', { params: { ticket_id: 'id', join_id: 'join' } });

/** Decisions at a ticket's human gates and a retry of its delivery: `POST /api/tickets/:id/<action>`. */
const GATE_ACTIONS = {
  approve: { route: commandRoute('ticket.approve', { params: { ticket_id: 'id' } }), summary: 'Approve the gate the ticket waits at (before_execute: it starts; before_delivery: its branch is pushed)' },
  reject: { route: commandRoute('ticket.reject', { params: { ticket_id: 'id' } }), summary: 'Reject the gate the ticket waits at, with a comment (before_execute: the ticket is cancelled; before_delivery: the delivery is rejected)' },
  deliver: { route: commandRoute('ticket.deliver', { params: { ticket_id: 'id' } }), summary: 'Push a completed ticket\'s branch again after its delivery failed' },
} as const;

/**
 * Tickets (read: viewer; change: operator): reads come from PostgreSQL; every change is a command handed to `submit` and
 * answered 202 (accepted: the ticket's actor applies it, or rejects it with a
 * `ticket.rejected` event, e.g. for an unknown ticket or an illegal transition).
 */
export async function ticketRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/tickets', {
    config: { role: 'viewer' },
    schema: {
      summary: 'List tickets, newest first, with their tasks counted by status', tags,
      querystring: Type.Object({ status: Type.Optional(Type.String({ maxLength: 50, description: 'only tickets in this status (`open`, `awaiting_approval`, `running`, `completed`, …)' })), limit: Type.Optional(Limit(LIMIT)) }),
      response: { 200: Type.Object({ tickets: Type.Array(Row('an `omoi_ticket` row (its repository URL without credentials), with `tasks`: the count of its tasks by status')) }, { description: 'The tickets' }) },
    },
  }, async (req) => {
    const status = queryString(req.query, 'status', 50);
    const limit = queryInt(req.query, 'limit', LIMIT);
    const em = deps.db.em();
    const tickets = await em.find(TicketEntity, status ? { status } : {}, { orderBy: { created_at: 'desc', id: 'desc' }, limit });
    const counts = await taskCounts(deps, tickets.map((t) => t.id));
    return { tickets: tickets.map((t) => ({ ...withoutCredentials(plain(t)), tasks: counts.get(t.id) ?? {} })) };
  });

  app.get('/tickets/:id', {
    config: { role: 'viewer' },
    schema: {
      summary: 'One ticket with its tasks, joins, merge attempts and the usage of each attempt', tags,
      params: TicketParams,
      response: {
        200: Type.Object({
          ticket: Row('the `omoi_ticket` row (its repository URL without credentials)'),
          tasks: Type.Array(Row('an `omoi_task` row')),
          joins: Type.Array(Row('an `omoi_join` row, with `completed`: source task → `{ commit, result }`')),
          merge_attempts: Type.Array(Row('an `omoi_merge_attempt` row')),
          attempt_usage: Type.Array(Row('an `omoi_attempt_usage` row: what one attempt reported using')),
          approvals: Type.Array(Row('an `omoi_approval` row: a decision at one of its gates (gate, decision, comment, principal, at), oldest first')),
        }, { description: 'The ticket (its delivery: `delivery`, `delivery_status`, `delivered_commit`, `pull_request_url`, `delivery_error`, …; the remote without credentials)' }),
        404: errorAnswer('`not_found`: no such ticket'),
      },
    },
  }, async (req) => {
    const id = paramId(req.params, 'id');
    const em = deps.db.em();
    const ticket = await em.findOne(TicketEntity, { id });
    if (!ticket) throw new NotFoundError('ticket', id);
    const [tasks, joins, joinSources, mergeAttempts, usage, approvals] = await Promise.all([
      em.find(TaskEntity, { ticket_id: id }, { orderBy: { created_at: 'asc', id: 'asc' } }),
      em.find(JoinEntity, { ticket_id: id }, { orderBy: { created_at: 'asc', id: 'asc' } }),
      em.find(JoinSourceEntity, { ticket_id: id }, { orderBy: { join_id: 'asc', source: 'asc' } }),
      em.find(MergeAttemptEntity, { ticket_id: id }, { orderBy: { join_id: 'asc', attempt: 'asc' } }),
      em.find(AttemptUsageEntity, { ticket_id: id }, { orderBy: { recorded_at: 'asc', task_id: 'asc', attempt: 'asc' } }),
      em.find(ApprovalEntity, { entity_kind: 'ticket', entity_id: id }, { orderBy: { at: 'asc', id: 'asc' } }),
    ]);
    const completed = completedByJoin(joinSources);
    return {
      ticket: withoutCredentials(plain(ticket)), tasks: tasks.map(plain),
      joins: joins.map((j) => ({ ...plain(j), completed: completed.get(j.id) ?? {} })),
      merge_attempts: mergeAttempts.map(plain),
      // Each attempt's reported usage; the ticket's `spend` is their sum, `budget` its limits.
      attempt_usage: usage.map(plain),
      approvals: approvals.map(plain),
    };
  });

  app.post('/tickets', {
    config: { role: 'operator', action: 'ticket.create' },
    schema: {
      summary: 'Create a ticket (without `ticket_id`, the node makes one up)', tags, ...create.schema,
      response: { 202: Accepted({ ticket_id: Id }) },
    },
  }, async (req, reply) => {
    const body = bodyObject(req.body);
    const payload = { ...body, ticket_id: body.ticket_id === undefined ? newTicketId() : body.ticket_id };
    const { id } = await submitCommand(deps, req, create, payload);
    return reply.code(202).send({ ticket_id: payload.ticket_id, message_id: id });
  });

  app.post('/tickets/:id/cancel', {
    config: { role: 'operator', action: 'ticket.cancel' },
    schema: { summary: 'Cancel a ticket', tags, ...cancel.schema, response: { 202: Accepted({ ticket_id: Id }) } },
  }, async (req, reply) => {
    const ticket_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, cancel, { ...bodyObject(req.body), ticket_id });
    return reply.code(202).send({ ticket_id, message_id: id });
  });

  // Raise, change or clear the budget (absent fields kept, null clears); a ticket back under it schedules again.
  app.put('/tickets/:id/budget', {
    config: { role: 'operator', action: 'ticket.set_budget' },
    schema: { summary: 'Raise, change or clear a ticket\'s budget', tags, ...setBudget.schema, response: { 202: Accepted({ ticket_id: Id }) } },
  }, async (req, reply) => {
    const ticket_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, setBudget, { ...bodyObject(req.body), ticket_id });
    return reply.code(202).send({ ticket_id, message_id: id });
  });

  app.post('/tickets/:id/tasks', {
    config: { role: 'operator', action: 'task.add' },
    schema: { summary: 'Add a task to a running ticket (the body is the task)', tags, ...addTask.schema, response: { 202: Accepted({ ticket_id: Id, task_id: Id }) } },
  }, async (req, reply) => {
    const ticket_id = paramString(req.params, 'id');
    const task = bodyObject(req.body);
    const { id } = await submitCommand(deps, req, addTask, { ticket_id, task });
    return reply.code(202).send({ ticket_id, task_id: task.id, message_id: id });
  });

  for (const [action, { type, summary }] of Object.entries(TASK_ACTIONS)) {
    const command = commandRoute(type, { params: { ticket_id: 'id', task_id: 'task' } });
    app.post(`/tickets/:id/tasks/:task/${action}`, {
      config: { role: 'operator', action: type },
      schema: { summary, tags, ...command.schema, response: { 202: Accepted({ ticket_id: Id, task_id: Id }) } },
    }, async (req, reply) => {
      const ticket_id = paramString(req.params, 'id');
      const task_id = paramString(req.params, 'task');
      const payload = { ...bodyObject(req.body), ticket_id, task_id };
      const { id } = await submitCommand(deps, req, command, payload);
      return reply.code(202).send({ ticket_id, task_id, message_id: id });
    });
  }

  for (const [action, { route, summary }] of Object.entries(GATE_ACTIONS)) {
    app.post(`/tickets/:id/${action}`, {
      config: { role: 'operator', action: route.type },
      schema: { summary, tags, ...route.schema, response: { 202: Accepted({ ticket_id: Id }) } },
    }, async (req, reply) => {
      const ticket_id = paramString(req.params, 'id');
      const { id } = await submitCommand(deps, req, route, { ...bodyObject(req.body), ticket_id });
      return reply.code(202).send({ ticket_id, message_id: id });
    });
  }

  // Body: `{ "commit": "<sha>" }` (your merge commit) or `{ "rerun_resolver": true }` (a new merge attempt).
  app.post('/tickets/:id/joins/:join/resolve', {
    config: { role: 'operator', action: 'merge.resolve' },
    schema: { summary: 'Resume a join blocked by a failed merge: on a merge commit a person made, or with a new attempt that re-runs the resolver', tags, ...resolveJoin.schema, response: { 202: Accepted({ ticket_id: Id, join_id: JoinId }) } },
  }, async (req, reply) => {
    const ticket_id = paramString(req.params, 'id');
    const join_id = paramString(req.params, 'join');
    const payload = { ...bodyObject(req.body), ticket_id, join_id };
    const { id } = await submitCommand(deps, req, resolveJoin, payload);
    return reply.code(202).send({ ticket_id, join_id, message_id: id });
  });
}

/** Task counts by status for each ticket, for the list view. */
async function taskCounts(deps: HttpDeps, ticketIds: string[]): Promise<Map<string, Record<string, number>>> {
  const counts = new Map<string, Record<string, number>>();
  if (ticketIds.length === 0) return counts;
  const rows: { ticket_id: string; status: string; n: number }[] = await deps.db.em().getConnection().execute(
    `select ticket_id, status, count(*)::int as n from omoi_task where ticket_id in (${ticketIds.map(() => '?').join(', ')}) group by ticket_id, status`,
    ticketIds,
  );
  for (const row of rows) {
    const byStatus = counts.get(row.ticket_id) ?? {};
    byStatus[row.status] = row.n;
    counts.set(row.ticket_id, byStatus);
  }
  return counts;
}

/** `omoi_join_source` rows as each join's `completed` map (source → {commit, result}), the shape the API has always returned. */
function completedByJoin(rows: JoinSourceRow[]): Map<string, Record<string, { commit: string; result: unknown }>> {
  const byJoin = new Map<string, Record<string, { commit: string; result: unknown }>>();
  for (const r of rows) {
    let completed = byJoin.get(r.join_id);
    if (!completed) byJoin.set(r.join_id, (completed = {}));
    completed[r.source] = { commit: r.commit, result: r.result ?? null };
  }
  return byJoin;
}

/** A ticket row as the API shows it: its repository and delivery remote without credentials. */
function withoutCredentials(row: Record<string, unknown>): Record<string, unknown> {
  const delivery = row.delivery as { remote?: string } | null | undefined;
  return {
    ...row, repository: redactUrl(String(row.repository)),
    ...(delivery?.remote ? { delivery: { ...delivery, remote: redactUrl(delivery.remote) } } : {}),
  };
}
