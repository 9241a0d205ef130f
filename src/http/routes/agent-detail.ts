import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { missingFor, TaskState } from '../../dag/index.ts';
import { NotFoundError } from '../../errors.ts';
import { AgentEntity, TaskEntity, toTask } from '../../persistence/index.ts';
import { errorAnswer, Limit, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { Id } from '../../protocol/index.ts';
import { plainRow } from '../plain-row.ts';
import { paramId, queryInt } from '../request-input.ts';

/** Most current attempts listed (an agent's capacity is far below). */
const MAX_CURRENT = 100;
/** Ready tasks examined for capability mismatches, oldest first. */
const MAX_READY_SCANNED = 500;
/** An agent's newest `task.status` events its attempt history is built from. */
const HISTORY_EVENTS = 2000;

/** How an attempt ended, from the task's first state after it that is not `assigned`/`running`. */
const OUTCOME: Readonly<Record<string, string>> = {
  [TaskState.completed]: 'completed',
  [TaskState.failed]: 'failed',
  [TaskState.cancelled]: 'cancelled',
  [TaskState.blocked]: 'blocked',
  // Failed with retries left, its agent lost, or held by a budget: the task runs again.
  [TaskState.ready]: 'retried',
};

/**
 * `GET /api/agents/:id?history=`: one agent for its detail view.
 * - `agent`: its row (status, phase, capabilities, capacity, version, kind, budget and spend).
 * - `heartbeat`: only the last heartbeat is stored (`last_at`, `age_ms`); there is no history.
 * - `current`: its attempts now `assigned` or `running` (from the task rows).
 * - `history`: its last `history` attempts (default 20), newest first, with their outcome,
 *   from the event log (`task.status`; kept as long as `OMOI_RETENTION_EVENTS_MS`).
 * - `mismatches`: ready tasks of its phase that need capabilities it lacks, and ready tasks no
 *   agent matches (`unmatched`), with what this agent lacks for each (the scheduler's
 *   `missingFor`); from the oldest 500 ready tasks.
 */
export async function agentDetailRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/agents/:id', {
    config: { role: 'viewer' },
    schema: {
      summary: 'One agent for its detail view: heartbeat, current attempts, history, capability mismatches', tags: ['agents'],
      params: Type.Object({ id: Id }),
      querystring: Type.Object({ history: Type.Optional(Limit({ min: 1, max: 200, default: 20 })) }),
      response: {
        200: Type.Object({
          agent: Row('the `omoi_agent` row'),
          heartbeat: Type.Object({ last_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]), age_ms: Type.Union([Type.Integer(), Type.Null()]), history_stored: Type.Boolean({ description: 'false: only the last heartbeat is kept' }) }),
          current: Type.Array(Type.Object({}, { additionalProperties: true, description: 'an attempt assigned or running: ticket_id, task_id, attempt, status, since, progress_at' })),
          history: Type.Array(Type.Object({}, { additionalProperties: true, description: 'an earlier attempt: ticket_id, task_id, attempt, started_at, ended_at, outcome, reason' })),
          mismatches: Type.Array(Type.Object({}, { additionalProperties: true, description: 'a ready task of its phase needing capabilities it lacks, or one no agent matches' })),
          mismatches_scanned: Type.Integer({ minimum: 0, description: 'ready tasks looked at (the oldest 500)' }),
        }, { description: 'The agent' }),
        404: errorAnswer('`not_found`: no such agent'),
      },
    },
  }, async (req) => {
    const agentId = paramId(req.params, 'id');
    const historyLimit = queryInt(req.query, 'history', { min: 1, max: 200, default: 20 });
    const em = deps.db.em();
    const agent = await em.findOne(AgentEntity, { id: agentId });
    if (!agent) throw new NotFoundError('agent', agentId);
    const [current, history, ready] = await Promise.all([
      em.find(TaskEntity, { agent_id: agentId, status: { $in: [TaskState.assigned, TaskState.running] } }, { orderBy: { updated_at: 'desc' }, limit: MAX_CURRENT }),
      attemptHistory(deps, agentId, historyLimit),
      em.find(TaskEntity, { status: TaskState.ready }, { orderBy: { ready_since: 'asc', ticket_id: 'asc', id: 'asc' }, limit: MAX_READY_SCANNED }),
    ]);
    const mismatches = [];
    for (const row of ready) {
      const task = toTask(row);
      const missing = missingFor(task.spec, agent).filter((m) => m.startsWith('capability:')).map((m) => m.slice('capability:'.length));
      const ofItsPhase = task.spec.phase === agent.phase;
      if ((ofItsPhase && missing.length) || task.unmatched) {
        mismatches.push({
          ticket_id: task.ticket_id, task_id: task.id, phase: task.spec.phase, required: task.spec.capabilities,
          missing, phase_differs: !ofItsPhase, unmatched: task.unmatched, ready_since: task.ready_since?.toISOString() ?? null,
        });
      }
    }
    const lastAt = agent.last_heartbeat_at;
    return {
      agent: plainRow(agent),
      heartbeat: { last_at: lastAt?.toISOString() ?? null, age_ms: lastAt ? Math.max(0, Date.now() - lastAt.getTime()) : null, history_stored: false },
      current: current.map((t) => ({
        ticket_id: t.ticket_id, task_id: t.id, attempt: t.attempt, status: t.status,
        since: t.updated_at.toISOString(), progress_at: t.progress_at?.toISOString() ?? null,
      })),
      history,
      mismatches,
      mismatches_scanned: ready.length,
    };
  });
}

interface AttemptRow { ticket_id: string; task_id: string; attempt: number; started_at: Date; last_status: string; status: string | null; reason: string | null; ended_at: Date | null }

/**
 * The agent's last attempts: those its newest `task.status` events name, each with the task's
 * first state after the attempt's last event with the agent that is not assigned or running
 * (a retried attempt's `ready` no longer names its agent, hence the second look-up).
 */
async function attemptHistory(deps: HttpDeps, agentId: string, limit: number) {
  const rows = await deps.db.em().getConnection().execute(
    `with recent as (
       select id, time, ticket_id, payload from omoi_event where agent_id = ? and type = 'task.status' order by id desc limit ?
     ), attempts as (
       select ticket_id, payload->>'task_id' as task_id, (payload->>'attempt')::int as attempt,
              min(time) as started_at, max(id) as last_id, (array_agg(payload->>'status' order by id desc))[1] as last_status
         from recent where ticket_id is not null group by 1, 2, 3 order by last_id desc limit ?
     )
     select a.ticket_id, a.task_id, a.attempt, a.started_at, a.last_status, e.status, e.reason, e.time as ended_at
       from attempts a
       left join lateral (
         select payload->>'status' as status, payload->>'reason' as reason, time from omoi_event
          where ticket_id = a.ticket_id and id >= a.last_id and type = 'task.status' and payload->>'task_id' = a.task_id
            and payload->>'status' not in ('assigned', 'running')
          order by id limit 1
       ) e on true
      order by a.last_id desc`,
    [agentId, HISTORY_EVENTS, limit],
  ) as AttemptRow[];
  return rows.map((r) => ({
    ticket_id: r.ticket_id, task_id: r.task_id, attempt: r.attempt,
    started_at: new Date(r.started_at).toISOString(),
    ended_at: r.ended_at ? new Date(r.ended_at).toISOString() : null,
    outcome: r.status ? (OUTCOME[r.status] ?? r.status) : r.last_status,
    reason: r.reason,
  }));
}
