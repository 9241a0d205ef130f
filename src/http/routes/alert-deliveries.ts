import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DELIVERY_STATUSES, DeliveryStore } from '../../alerts/delivery/index.ts';
import { Limit, type LimitBounds, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { badRequest } from '../error-reply.ts';
import { queryEnum, queryInt, queryString } from '../request-input.ts';

const LIMIT: LimitBounds = { min: 1, max: 1000, default: 100 };

/** Longest alert id accepted in a path or query (the column is varchar(255)). */
const ALERT_ID_MAX = 255;

/**
 * Alert deliveries (viewer): where each notification of an alert went (webhook, Slack,
 * e-mail), with status, attempts, next attempt, the route's last answer and last error.
 * - `GET /api/alerts/:id/deliveries`: one alert's, newest first.
 * - `GET /api/alert-deliveries?status=&alert=&limit=`: all of them, e.g. `status=failed`.
 * Neither shows a route's URL, headers or secret: only its name and type.
 */
const tags = ['alerts'];
const Deliveries = Type.Object({ deliveries: Type.Array(Row('an `omoi_alert_delivery` row: the route\'s name and type, status, attempts, next attempt, last answer and error (never its URL, headers or secret)')) }, { description: 'The deliveries, newest first' });

export async function alertDeliveryRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const store = new DeliveryStore(deps.db);

  app.get('/alerts/:id/deliveries', {
    config: { role: 'viewer' },
    schema: {
      summary: 'Where one alert\'s notifications went', tags,
      params: Type.Object({ id: Type.String({ minLength: 1, maxLength: ALERT_ID_MAX, description: 'the alert\'s id' }) }),
      querystring: Type.Object({ limit: Type.Optional(Limit(LIMIT)) }),
      response: { 200: Deliveries },
    },
  }, async (req) => {
    const alertId = alertIdParam((req.params as { id?: unknown }).id);
    const limit = queryInt(req.query, 'limit', LIMIT);
    return { deliveries: await store.list({ alertId, limit }) };
  });

  app.get('/alert-deliveries', {
    config: { role: 'viewer' },
    schema: {
      summary: 'Alert notifications of every alert, e.g. the failed ones', tags,
      querystring: Type.Object({
        status: Type.Optional(Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s)))),
        alert: Type.Optional(Type.String({ maxLength: ALERT_ID_MAX, description: 'only this alert\'s' })),
        limit: Type.Optional(Limit(LIMIT)),
      }),
      response: { 200: Deliveries },
    },
  }, async (req) => {
    const status = queryEnum(req.query, 'status', DELIVERY_STATUSES);
    const alertId = queryString(req.query, 'alert', ALERT_ID_MAX);
    const limit = queryInt(req.query, 'limit', LIMIT);
    return { deliveries: await store.list({ status, alertId, limit }) };
  });
}

function alertIdParam(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw badRequest('invalid_path', 'path parameter id is missing', 'params.id');
  if (value.length > ALERT_ID_MAX || value.includes('\u0000')) throw badRequest('invalid_path', `path parameter id must be at most ${ALERT_ID_MAX} characters, without NUL`, 'params.id');
  return value;
}
