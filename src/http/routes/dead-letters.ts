import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors.ts';
import type { HttpDeps } from '../deps.ts';
import { paramInt, queryEnum, queryInt } from '../request-input.ts';

/** `all` lists every status; without `status` the store's default applies (open letters). */
const STATUSES = ['open', 'retried', 'discarded', 'all'] as const;

/**
 * Dead letters (read: viewer; retry and discard: admin): input that was rejected or exhausted its deliveries. An operator lists,
 * inspects, retries (republishes the original) or discards them.
 */
export async function deadLetterRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/dlq', { config: { role: 'viewer' } }, async (req) => {
    const status = queryEnum(req.query, 'status', STATUSES);
    const limit = queryInt(req.query, 'limit', { min: 1, max: 1000, default: 100 });
    return { dead_letters: await deps.deadLetters.list(status, limit) };
  });

  app.get('/dlq/:id', { config: { role: 'viewer' } }, async (req) => {
    const id = paramInt(req.params, 'id');
    const letter = await deps.deadLetters.show(id);
    if (letter === undefined) throw new NotFoundError('dead letter', String(id));
    return letter;
  });

  app.post('/dlq/:id/retry', { config: { role: 'admin', action: 'dlq.retry' } }, async (req) => {
    const id = paramInt(req.params, 'id');
    await deps.deadLetters.retry(id);
    return { id, status: 'retried' };
  });

  app.post('/dlq/:id/discard', { config: { role: 'admin', action: 'dlq.discard' } }, async (req) => {
    const id = paramInt(req.params, 'id');
    await deps.deadLetters.discard(id);
    return { id, status: 'discarded' };
  });
}
