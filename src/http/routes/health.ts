import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errorMessage } from '../../errors.ts';
import type { HttpDeps, Readiness } from '../deps.ts';

/**
 * Unauthenticated probes: `/healthz` (the process answers), `/readyz` (the node can do its
 * work: 200 when ready, 503 otherwise, with each check), `/metrics` (Prometheus text).
 */
const ReadinessReport = Type.Object({
  ready: Type.Boolean(),
  checks: Type.Record(Type.String(), Type.Object({ ok: Type.Boolean(), detail: Type.Optional(Type.String()) }), { description: 'each check by name (database, nats, …)' }),
});

export async function healthRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/healthz', {
    schema: { summary: 'Liveness: the process answers', tags: ['probes'], response: { 200: Type.Object({ ok: Type.Literal(true) }, { description: 'Alive' }) } },
  }, async () => ({ ok: true }));

  app.get('/readyz', {
    schema: { summary: 'Readiness: the node can do its work', tags: ['probes'], response: { 200: { ...ReadinessReport, description: 'Ready' }, 503: { ...ReadinessReport, description: 'Not ready: a check failed' } } },
  }, async (_req, reply) => {
    let readiness: Readiness;
    try {
      readiness = await deps.readiness();
    } catch (err) {
      // A failing probe is an answer ("not ready"), not a server error.
      readiness = { ready: false, checks: { readiness: { ok: false, detail: errorMessage(err) } } };
    }
    return reply.code(readiness.ready ? 200 : 503).send(readiness);
  });

  app.get('/metrics', {
    schema: { summary: 'Prometheus metrics', tags: ['probes'], response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: Type.String() } } } } },
  }, async (_req, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });
}
