import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { FilterQuery } from '@mikro-orm/core';
import { EventLogEntity, type EventLogRow } from '../../persistence/index.ts';
import { Id } from '../../protocol/index.ts';
import { Limit, type LimitBounds, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { plainRow } from '../plain-row.ts';
import { queryFlag, queryId, queryInt } from '../request-input.ts';

const LIMIT: LimitBounds = { min: 1, max: 1000, default: 100 };

/**
 * `GET /api/events?ticket_id=&after=&limit=&tail=`: the event log in ascending id order.
 * Poll with `after` = the `next_after` of the previous answer to follow it. `tail=1` returns
 * the newest `limit` events (still ascending), which is where a live feed starts.
 */
export async function eventRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/events', {
    config: { role: 'viewer' },
    schema: {
      summary: 'The event log, oldest first; poll with `after`', tags: ['events'],
      querystring: Type.Object({
        ticket_id: Type.Optional(Id),
        after: Type.Optional(Type.Integer({ minimum: 0, description: 'only events after this id: the `next_after` of the previous answer' })),
        limit: Type.Optional(Limit(LIMIT)),
        tail: Type.Optional(Type.Union(['1', '0', 'true', 'false'].map((v) => Type.Literal(v)), { description: '1: the newest `limit` events (still oldest first)' })),
      }),
      response: {
        200: Type.Object({
          events: Type.Array(Row('an `omoi_event` row: `id`, `message_id`, `type`, `ticket_id`, `payload`, `at`')),
          next_after: Type.Integer({ minimum: 0, description: 'the `after` of the next poll' }),
        }, { description: 'The events' }),
      },
    },
  }, async (req) => {
    const ticketId = queryId(req.query, 'ticket_id');
    const after = queryInt(req.query, 'after', { min: 0, max: Number.MAX_SAFE_INTEGER });
    const limit = queryInt(req.query, 'limit', LIMIT);
    const tail = queryFlag(req.query, 'tail');
    const where: FilterQuery<EventLogRow> = {};
    if (ticketId) where.ticket_id = ticketId;
    if (after !== undefined) where.id = { $gt: after };
    const rows = await deps.db.em().find(EventLogEntity, where, { orderBy: { id: tail ? 'desc' : 'asc' }, limit });
    if (tail) rows.reverse();
    const events = rows.map((row) => ({ ...plainRow(row), id: Number(row.id) }));
    const last = events.at(-1)?.id ?? after ?? 0;
    return { events, next_after: last };
  });
}
