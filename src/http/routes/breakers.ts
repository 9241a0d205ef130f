import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.ts';

/**
 * `GET /api/breakers`: this node's circuit breakers (each node keeps its own: a remote dead
 * from one node may answer another; ask each node's HTTP URL from `/api/cluster` for theirs).
 * Every breaker used since the node started, with its state, since when, and the failure that
 * last counted; `?state=open` (or `half_open`, `closed`) filters.
 */
export async function breakerRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/breakers', { config: { role: 'viewer' } }, async (req) => {
    const want = (req.query as { state?: unknown }).state;
    const all = (deps.breakers?.states() ?? [])
      .map((b) => ({ breaker: b.breaker, key: b.key, state: b.state, since: b.since.toISOString(), ...(b.last_failure ? { last_failure: b.last_failure } : {}) }))
      .filter((b) => typeof want !== 'string' || b.state === want)
      .sort((a, b) => a.breaker.localeCompare(b.breaker) || a.key.localeCompare(b.key));
    return { node_id: deps.config.nodeId, breakers: all };
  });
}
