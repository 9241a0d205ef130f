import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.ts';

const State = Type.Union([Type.Literal('closed'), Type.Literal('open'), Type.Literal('half_open')]);

/**
 * `GET /api/breakers`: this node's circuit breakers (each node keeps its own: a remote dead
 * from one node may answer another; ask each node's HTTP URL from `/api/cluster` for theirs).
 * Every breaker used since the node started, with its state, since when, and the failure that
 * last counted; `?state=open` (or `half_open`, `closed`) filters.
 */
export async function breakerRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/breakers', {
    config: { role: 'viewer' },
    schema: {
      summary: 'This node\'s circuit breakers', tags: ['operations'],
      querystring: Type.Object({ state: Type.Optional(State) }),
      response: {
        200: Type.Object({
          node_id: Type.String(),
          breakers: Type.Array(Type.Object({ breaker: Type.String(), key: Type.String(), state: State, since: Type.String({ format: 'date-time' }), last_failure: Type.Optional(Type.String()) })),
        }, { description: 'Every breaker used since the node started' }),
      },
    },
  }, async (req) => {
    const want = (req.query as { state?: unknown }).state;
    const all = (deps.breakers?.states() ?? [])
      .map((b) => ({ breaker: b.breaker, key: b.key, state: b.state, since: b.since.toISOString(), ...(b.last_failure ? { last_failure: b.last_failure } : {}) }))
      .filter((b) => typeof want !== 'string' || b.state === want)
      .sort((a, b) => a.breaker.localeCompare(b.breaker) || a.key.localeCompare(b.key));
    return { node_id: deps.config.nodeId, breakers: all };
  });
}
