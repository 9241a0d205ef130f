import type { FastifyInstance } from 'fastify';
import type { HttpDeps } from '../deps.ts';
import { bodyObject, paramString } from '../request-input.ts';

/**
 * API tokens (admin only). `POST /api/tokens {name, role}` answers the new token once — only
 * its sha256 is stored; `GET` lists principals without hashes; `DELETE /api/tokens/:name`
 * revokes (this node refuses the token at once, the others within a second).
 */
export async function tokenRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/tokens', { config: { role: 'admin' } }, async () => ({ tokens: await deps.principals.list() }));

  app.post('/tokens', { config: { role: 'admin', action: 'token.create' } }, async (req, reply) => {
    const body = bodyObject(req.body);
    const { principal, token } = await deps.principals.create(body.name, body.role, req.principal!.name);
    return reply.code(201).send({ name: principal.name, role: principal.role, token });
  });

  app.delete('/tokens/:name', { config: { role: 'admin', action: 'token.revoke' } }, async (req) => {
    const principal = await deps.principals.revoke(paramString(req.params, 'name'));
    return { name: principal.name, role: principal.role, revoked_at: principal.revoked_at };
  });
}
