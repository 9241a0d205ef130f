import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.ts';
import { queryInt, queryString } from '../request-input.ts';

/** `GET /api/audit?limit=&principal=&command=` (admin): the audit log, newest first. */
export async function auditRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/audit', { config: { role: 'admin' } }, async (req) => {
    const limit = queryInt(req.query, 'limit', { min: 1, max: 1000, default: 100 });
    const principal = queryString(req.query, 'principal', 255);
    const command = queryString(req.query, 'command', 255);
    const rows = await deps.audit.list({ limit, principal, command });
    return { audit: rows.map((r) => ({ ...r, at: r.at.toISOString() })) };
  });
}
