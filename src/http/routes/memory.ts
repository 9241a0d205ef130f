import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { MemoryKind, MemoryStore, MEMORY_LIMIT_MAX, MEMORY_QUERY_MAX } from '../../memory/index.ts';
import { errorAnswer, Limit, type LimitBounds } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { badRequest } from '../error-reply.ts';
import { queryInt, queryString } from '../request-input.ts';

const LIMIT: LimitBounds = { min: 1, max: MEMORY_LIMIT_MAX, default: 10 };
const REPOSITORY_MAX = 2000;
/** Statement timeout of a person's search, ms: a pathological query is cancelled, not left running. */
const SEARCH_TIMEOUT_MS = 5_000;

const Hit = Type.Object({
  id: Type.Integer(),
  kind: Type.Union(Object.values(MemoryKind).map((k) => Type.Literal(k)), { description: '`task_result`, `task_failure` or `merge_resolution`' }),
  repository: Type.String(), ticket_id: Type.String(),
  task_id: Type.Union([Type.String(), Type.Null()]), join_id: Type.Union([Type.String(), Type.Null()]),
  title: Type.String({ description: 'what the work was: the task\'s title and run/prompt, or the merge and its conflicted files' }),
  excerpt: Type.String({ description: 'the start of what came of it (result JSON, failure reason, resolutions), at most 400 characters' }),
  files: Type.Array(Type.String(), { description: 'files the task owned, or that conflicted' }),
  commit: Type.Union([Type.String(), Type.Null()]),
  resolutions: Type.Array(Type.Object({ file: Type.String(), source: Type.String(), by: Type.String() }), { description: 'a merge\'s resolved files: `by` is `rule:<name>`, `resolver` or `person`' }),
  created_at: Type.String({ format: 'date-time' }),
  rank: Type.Number({ description: 'ts_rank of the match (higher is better)' }),
});

/**
 * `GET /api/memory/search?q=&repository=&limit=` (viewer): full-text search of the memory of
 * past work (src/memory/), best match first. `q` is web-search syntax ("quoted phrase", `or`,
 * `-word`); a query with no searchable word is a 400 `empty_query`.
 */
export async function memoryRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const store = new MemoryStore(deps.db);
  app.get('/memory/search', {
    config: { role: 'viewer' },
    schema: {
      summary: 'Search the memory of past work: task results, failure reasons, merge resolutions', tags: ['memory'],
      querystring: Type.Object({
        q: Type.String({ minLength: 1, maxLength: MEMORY_QUERY_MAX, description: 'the words to look for (web-search syntax: "a phrase", or, -word)' }),
        repository: Type.Optional(Type.String({ maxLength: REPOSITORY_MAX, description: 'only this repository (as tickets name it); all when absent' })),
        limit: Type.Optional(Limit(LIMIT)),
      }),
      response: {
        200: Type.Object({ results: Type.Array(Hit) }, { description: 'The matches, best first' }),
        400: errorAnswer('`invalid_query`: a missing, repeated or too long parameter; `empty_query`: `q` has no searchable word'),
        503: errorAnswer('`memory_timeout`: the search took longer than 5 s and was cancelled'),
      },
    },
  }, async (req) => {
    const q = queryString(req.query, 'q', MEMORY_QUERY_MAX);
    if (q === undefined || !q.trim()) throw badRequest('invalid_query', 'query parameter q (the words to look for) is required', 'query.q');
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(q)) throw badRequest('invalid_query', 'query parameter q contains control characters', 'query.q');
    const repository = queryString(req.query, 'repository', REPOSITORY_MAX);
    const limit = queryInt(req.query, 'limit', LIMIT);
    return { results: await store.search(q, { repository, limit, timeoutMs: SEARCH_TIMEOUT_MS }) };
  });
}
