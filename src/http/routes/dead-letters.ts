import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors.ts';
import { errorAnswer, Limit, type LimitBounds, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { paramInt, queryEnum, queryInt } from '../request-input.ts';

const LIMIT: LimitBounds = { min: 1, max: 1000, default: 100 };

/** `all` lists every status; without `status` the store's default applies (open letters). */
const STATUSES = ['open', 'retried', 'discarded', 'all'] as const;

/**
 * Dead letters (read: viewer; retry and discard: admin): input that was rejected or exhausted its deliveries. An operator lists,
 * inspects, retries (republishes the original) or discards them.
 */
const tags = ['operations'];
const LetterParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2_147_483_647 }) });
const NoLetter = errorAnswer('`not_found`: no such dead letter');

export async function deadLetterRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/dlq', {
    config: { role: 'viewer' },
    schema: {
      summary: 'List dead letters', tags,
      querystring: Type.Object({ status: Type.Optional(Type.Union(STATUSES.map((s) => Type.Literal(s)), { description: 'default: open' })), limit: Type.Optional(Limit(LIMIT)) }),
      response: { 200: Type.Object({ dead_letters: Type.Array(Row('an `omoi_dead_letter` row')) }, { description: 'The dead letters' }) },
    },
  }, async (req) => {
    const status = queryEnum(req.query, 'status', STATUSES);
    const limit = queryInt(req.query, 'limit', LIMIT);
    return { dead_letters: await deps.deadLetters.list(status, limit) };
  });

  app.get('/dlq/:id', {
    config: { role: 'viewer' },
    schema: { summary: 'One dead letter, with the message as received', tags, params: LetterParams, response: { 200: Row('The `omoi_dead_letter` row'), 404: NoLetter } },
  }, async (req) => {
    const id = paramInt(req.params, 'id');
    const letter = await deps.deadLetters.show(id);
    if (letter === undefined) throw new NotFoundError('dead letter', String(id));
    return letter;
  });

  app.post('/dlq/:id/retry', {
    config: { role: 'admin', action: 'dlq.retry' },
    schema: {
      summary: 'Republish a dead letter\'s original message', tags, params: LetterParams,
      response: { 200: Type.Object({ id: Type.Integer(), status: Type.Literal('retried') }, { description: 'Republished' }), 404: NoLetter, 409: errorAnswer('`dead_letter_closed`: the letter was retried or discarded already') },
    },
  }, async (req) => {
    const id = paramInt(req.params, 'id');
    await deps.deadLetters.retry(id);
    return { id, status: 'retried' };
  });

  app.post('/dlq/:id/discard', {
    config: { role: 'admin', action: 'dlq.discard' },
    schema: {
      summary: 'Discard a dead letter', tags, params: LetterParams,
      response: { 200: Type.Object({ id: Type.Integer(), status: Type.Literal('discarded') }, { description: 'Discarded' }), 404: NoLetter, 409: errorAnswer('`dead_letter_closed`: the letter was retried or discarded already') },
    },
  }, async (req) => {
    const id = paramInt(req.params, 'id');
    await deps.deadLetters.discard(id);
    return { id, status: 'discarded' };
  });
}
