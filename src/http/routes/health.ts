import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../../errors.ts';
import type { HttpDeps, Readiness } from '../deps.ts';

/**
 * Unauthenticated probes: `/healthz` (the process answers), `/readyz` (the node can do its
 * work: 200 when ready, 503 otherwise, with each check), `/metrics` (Prometheus text).
 */
export async function healthRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/healthz', async () => ({ ok: true }));

  app.get('/readyz', async (_req, reply) => {
    let readiness: Readiness;
    try {
      readiness = await deps.readiness();
    } catch (err) {
      // A failing probe is an answer ("not ready"), not a server error.
      readiness = { ready: false, checks: { readiness: { ok: false, detail: errorMessage(err) } } };
    }
    return reply.code(readiness.ready ? 200 : 503).send(readiness);
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
}
