import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ROLES } from '../../access/index.ts';
import { Id } from '../../protocol/index.ts';
import { errorAnswer } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';

const tags = ['access'];
const RoleName = Type.Union(ROLES.map((r) => Type.Literal(r)));
const PrincipalInfo = Type.Object({
  name: Type.String(), role: RoleName, created_at: Type.String(), created_by: Type.String(),
  revoked_at: Type.Union([Type.String(), Type.Null()]),
});
import { bodyObject, paramString } from '../request-input.ts';

/**
 * API tokens (admin only). `POST /api/tokens {name, role}` answers the new token once — only
 * its sha256 is stored; `GET` lists principals without hashes; `DELETE /api/tokens/:name`
 * revokes (this node refuses the token at once, the others within a second).
 */
export async function tokenRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/tokens', {
    config: { role: 'admin' },
    schema: { summary: 'The principals (never their tokens or hashes), revoked ones included', tags, response: { 200: Type.Object({ tokens: Type.Array(PrincipalInfo) }, { description: 'Oldest first' }) } },
  }, async () => ({ tokens: await deps.principals.list() }));

  app.post('/tokens', {
    config: { role: 'admin', action: 'token.create' },
    schema: {
      summary: 'Make an API token with a role', tags,
      body: Type.Object({ name: Id, role: RoleName }),
      response: {
        201: Type.Object({ name: Type.String(), role: RoleName, token: Type.String({ description: 'the token, in this answer only (the node keeps its sha256)' }) }, { description: 'Made' }),
        409: errorAnswer('`principal_exists`: the name is taken (names of revoked principals are not reused)'),
      },
    },
  }, async (req, reply) => {
    const body = bodyObject(req.body);
    const { principal, token } = await deps.principals.create(body.name, body.role, req.principal!.name);
    return reply.code(201).send({ name: principal.name, role: principal.role, token });
  });

  app.delete('/tokens/:name', {
    config: { role: 'admin', action: 'token.revoke' },
    schema: {
      summary: 'Revoke a principal\'s token (other nodes refuse it within a second)', tags,
      params: Type.Object({ name: Type.String({ minLength: 1 }) }),
      response: {
        200: Type.Object({ name: Type.String(), role: RoleName, revoked_at: Type.Union([Type.String(), Type.Null()]) }, { description: 'Revoked' }),
        404: errorAnswer('`not_found`: no such principal'),
        409: errorAnswer('`builtin_principal`: the bootstrap admin\'s token is `OMOI_API_TOKEN`'),
      },
    },
  }, async (req) => {
    const principal = await deps.principals.revoke(paramString(req.params, 'name'));
    return { name: principal.name, role: principal.role, revoked_at: principal.revoked_at };
  });
}
