import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';

/**
 * `GET /api/openapi.json` (viewer): the OpenAPI 3.1 document of this API, generated from the
 * route schemas (src/http/openapi.ts). Behind a token like every `/api` route, so the guard
 * has no exception; the same document is in the repository as docs/openapi.json.
 */
export async function openApiRoutes(app: FastifyInstance): Promise<void> {
  app.get('/openapi.json', {
    config: { role: 'viewer' },
    schema: {
      summary: 'This API as an OpenAPI 3.1 document',
      tags: ['meta'],
      response: { 200: Type.Object({ openapi: Type.Literal('3.1.0') }, { additionalProperties: true, description: 'The OpenAPI document (the same as docs/openapi.json of the release)' }) },
    },
  }, async () => app.swagger());
}
