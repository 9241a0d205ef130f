import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { Limit, type LimitBounds, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { queryInt, queryString } from '../request-input.ts';

const LIMIT: LimitBounds = { min: 1, max: 1000, default: 100 };

/** `GET /api/audit?limit=&principal=&command=` (admin): the audit log, newest first. */
export async function auditRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/audit', {
    config: { role: 'admin' },
    schema: {
      summary: 'The audit log, newest first: who changed what, over HTTP or NATS, and how it ended', tags: ['access'],
      querystring: Type.Object({
        limit: Type.Optional(Limit(LIMIT)),
        principal: Type.Optional(Type.String({ maxLength: 255, description: 'only this principal\'s' })),
        command: Type.Optional(Type.String({ maxLength: 255, description: 'only this command (`ticket.cancel`, `token.create`, …)' })),
      }),
      response: { 200: Type.Object({ audit: Type.Array(Row('an `omoi_audit` row: principal, role, channel, command, target, outcome, message id, at')) }, { description: 'The audit rows' }) },
    },
  }, async (req) => {
    const limit = queryInt(req.query, 'limit', LIMIT);
    const principal = queryString(req.query, 'principal', 255);
    const command = queryString(req.query, 'command', 255);
    const rows = await deps.audit.list({ limit, principal, command });
    return { audit: rows.map((r) => ({ ...r, at: r.at.toISOString() })) };
  });
}
