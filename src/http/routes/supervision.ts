import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Limit } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { queryInt, queryTime } from '../request-input.ts';

/** Default window of `GET /api/supervision`: the last 24 hours. */
const DEFAULT_WINDOW_MS = 24 * 3_600_000;
/** Most (node, actor, entity) groups answered: the ones with the newest event. */
const MAX_GROUPS = 200;

interface Group { node_id: string | null; actor: string; entity: string; crashed: number; restarted: number; escalated: number; last_at: Date; last_error: string | null }
interface Row { id: string; time: Date; payload: Record<string, unknown> }

/**
 * `GET /api/supervision?since=&limit=&before=`: what the actors' supervisors did since `since`
 * (default 24 hours ago), from the `actor.supervision` rows of the event log. `nodes`: counts
 * per node; `groups`: counts per node and entity (actor + entity) with the latest error, newest
 * first, at most 200; `events`: the individual events, newest first, `limit` of them (default
 * 50), before the event id `before` (page with `next_before`). `node_id` is null for events
 * of nodes that did not name themselves yet.
 */
export async function supervisionRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/supervision', {
    config: { role: 'viewer' },
    schema: {
      summary: 'What the actors\' supervisors did: crashes, restarts, escalations per node and entity', tags: ['operations'],
      querystring: Type.Object({
        since: Type.Optional(Type.String({ format: 'date-time', description: 'from when (default 24 hours ago)' })),
        limit: Type.Optional(Limit({ min: 1, max: 500, default: 50 })),
        before: Type.Optional(Type.Integer({ minimum: 1, description: 'events older than this event id (`next_before` of the previous page)' })),
      }),
      response: {
        200: Type.Object({
          since: Type.String({ format: 'date-time' }),
          nodes: Type.Array(Type.Object({}, { additionalProperties: true, description: 'counts per node: node_id, crashed, restarted, escalated' })),
          groups: Type.Array(Type.Object({}, { additionalProperties: true, description: 'counts per node and entity, with last_at and last_error' })),
          events: Type.Array(Type.Object({}, { additionalProperties: true, description: 'an `actor.supervision` event with its id, time and node' })),
          next_before: Type.Union([Type.Integer(), Type.Null()]),
        }, { description: 'The supervision record' }),
      },
    },
  }, async (req) => {
    const since = queryTime(req.query, 'since') ?? new Date(Date.now() - DEFAULT_WINDOW_MS);
    const limit = queryInt(req.query, 'limit', { min: 1, max: 500, default: 50 });
    const before = queryInt(req.query, 'before', { min: 1, max: Number.MAX_SAFE_INTEGER });
    const sql = (q: string, params: unknown[]) => deps.db.em().getConnection().execute(q, params);
    const counts = `count(*) filter (where payload->>'action' = 'crashed')::int as crashed,
                count(*) filter (where payload->>'action' = 'restarted')::int as restarted,
                count(*) filter (where payload->>'action' = 'escalated')::int as escalated`;
    const [nodes, groups, rows] = await Promise.all([
      sql(
        `select payload->>'node_id' as node_id, ${counts} from omoi_event
          where type = 'actor.supervision' and time >= ? group by 1 order by 1 nulls last`,
        [since],
      ) as Promise<Array<{ node_id: string | null; crashed: number; restarted: number; escalated: number }>>,
      sql(
        `select payload->>'node_id' as node_id, payload->>'actor' as actor, payload->>'entity' as entity, ${counts},
                max(time) as last_at,
                (array_agg(payload->>'error' order by id desc) filter (where payload->>'error' is not null))[1] as last_error
           from omoi_event where type = 'actor.supervision' and time >= ?
          group by 1, 2, 3 order by last_at desc, 1, 2, 3 limit ?`,
        [since, MAX_GROUPS],
      ) as Promise<Group[]>,
      sql(
        `select id, time, payload from omoi_event
          where type = 'actor.supervision' and time >= ? and (?::bigint is null or id < ?::bigint)
          order by id desc limit ?`,
        [since, before ?? null, before ?? null, limit],
      ) as Promise<Row[]>,
    ]);
    const events = rows.map((r) => ({ id: Number(r.id), at: new Date(r.time).toISOString(), node_id: r.payload.node_id ?? null, ...r.payload }));
    return {
      since: since.toISOString(),
      nodes,
      groups: groups.map((g) => ({ ...g, last_at: new Date(g.last_at).toISOString() })),
      events,
      next_before: events.length === limit ? events.at(-1)!.id : null,
    };
  });
}
