import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { DELIVERY_STATUSES } from '../../delivery/delivery-status.ts';
import { notFound, SubscriptionStore } from '../../webhooks/subscription-store.ts';
import { WebhookDeliveryStore } from '../../webhooks/webhook-delivery-store.ts';
import { errorAnswer, Limit, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { bodyObject, paramString, queryEnum, queryFlag, queryInt } from '../request-input.ts';

/**
 * Outgoing webhook subscriptions (admin only; their URLs may carry credentials):
 * - `POST /api/webhooks {url, events, ticket_id?, secret?}` → 201 with the secret, shown this once
 *   (generated when not given);
 * - `GET /api/webhooks[?all=true]`: active ones (with `all`, removed ones too), never a secret;
 * - `DELETE /api/webhooks/:id`: stops it (pending deliveries fail `subscription_inactive`);
 * - `GET /api/webhooks/:id/deliveries?status=&limit=`: its deliveries, newest first, with
 *   status, attempts, next attempt, last HTTP status, answer and error.
 * Changed here in PostgreSQL (audited), not by NATS commands: like API tokens, a subscription
 * configures an outside integration; no actor owns it and nothing orders it with entity state.
 */
const tags = ['webhooks'];
const Params = Type.Object({ id: Type.String({ minLength: 1, description: 'the subscription\'s id (`wh-…`)' }) });
const Subscription = (description: string) => Row(`${description} (an \`omoi_webhook_subscription\` row, never its secret)`);

export async function webhookRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const subscriptions = new SubscriptionStore(deps.db);
  const deliveries = new WebhookDeliveryStore(deps.db);

  app.post('/webhooks', {
    config: { role: 'admin', action: 'webhook.create' },
    schema: {
      summary: 'Subscribe a URL to events (signed deliveries); the secret is in this answer only', tags,
      body: Type.Object({
        url: Type.String({ minLength: 1, description: 'http(s) URL the deliveries are POSTed to' }),
        events: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, description: 'event type globs, e.g. `ticket.*`' }),
        ticket_id: Type.Optional(Type.String({ minLength: 1, description: 'only this ticket\'s events' })),
        secret: Type.Optional(Type.String({ minLength: 1, description: 'the HMAC secret (generated when absent)' })),
      }),
      response: { 201: Type.Object({}, { additionalProperties: true, description: 'The subscription, with its `secret` (shown this once)' }) },
    },
  }, async (req, reply) => {
    const body = bodyObject(req.body);
    const created = await subscriptions.create({ url: body.url, events: body.events, ticket_id: body.ticket_id, secret: body.secret }, req.principal!.name);
    return reply.code(201).send(created);
  });

  app.get('/webhooks', {
    config: { role: 'admin' },
    schema: {
      summary: 'The webhook subscriptions (active ones; with `all`, removed ones too)', tags,
      querystring: Type.Object({ all: Type.Optional(Type.Boolean()), limit: Type.Optional(Limit({ min: 1, max: 1000, default: 1000 })) }),
      response: { 200: Type.Object({ webhooks: Type.Array(Subscription('a subscription')) }, { description: 'The subscriptions' }) },
    },
  }, async (req) => ({
    webhooks: await subscriptions.list({ all: queryFlag(req.query, 'all'), limit: queryInt(req.query, 'limit', { min: 1, max: 1000, default: 1000 }) }),
  }));

  app.get('/webhooks/:id', {
    config: { role: 'admin' },
    schema: { summary: 'One webhook subscription', tags, params: Params, response: { 200: Subscription('The subscription'), 404: errorAnswer('`not_found`: no such subscription') } },
  }, async (req) => {
    const id = paramString(req.params, 'id');
    const sub = await subscriptions.get(id);
    if (!sub) throw notFound(id);
    return sub;
  });

  app.delete('/webhooks/:id', {
    config: { role: 'admin', action: 'webhook.remove' },
    schema: { summary: 'Stop a subscription (its pending deliveries fail `subscription_inactive`)', tags, params: Params, response: { 200: Subscription('The subscription, now inactive'), 404: errorAnswer('`not_found`: no such subscription') } },
  }, async (req) => subscriptions.remove(paramString(req.params, 'id')));

  app.get('/webhooks/:id/deliveries', {
    config: { role: 'admin' },
    schema: {
      summary: 'A subscription\'s deliveries, newest first: status, attempts, next attempt, last answer', tags, params: Params,
      querystring: Type.Object({ status: Type.Optional(Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s)))), limit: Type.Optional(Limit({ min: 1, max: 1000, default: 100 })) }),
      response: { 200: Type.Object({ deliveries: Type.Array(Row('an `omoi_webhook_delivery` row')) }, { description: 'The deliveries' }), 404: errorAnswer('`not_found`: no such subscription') },
    },
  }, async (req) => {
    const id = paramString(req.params, 'id');
    if (!(await subscriptions.get(id))) throw notFound(id);
    const status = queryEnum(req.query, 'status', DELIVERY_STATUSES);
    const limit = queryInt(req.query, 'limit', { min: 1, max: 1000, default: 100 });
    return { deliveries: await deliveries.list(id, { status, limit }) };
  });
}
