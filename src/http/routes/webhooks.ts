import type { FastifyInstance } from 'fastify';
import { DELIVERY_STATUSES } from '../../delivery/delivery-status.ts';
import { notFound, SubscriptionStore } from '../../webhooks/subscription-store.ts';
import { WebhookDeliveryStore } from '../../webhooks/webhook-delivery-store.ts';
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
export async function webhookRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  const subscriptions = new SubscriptionStore(deps.db);
  const deliveries = new WebhookDeliveryStore(deps.db);

  app.post('/webhooks', { config: { role: 'admin', action: 'webhook.create' } }, async (req, reply) => {
    const body = bodyObject(req.body);
    const created = await subscriptions.create({ url: body.url, events: body.events, ticket_id: body.ticket_id, secret: body.secret }, req.principal!.name);
    return reply.code(201).send(created);
  });

  app.get('/webhooks', { config: { role: 'admin' } }, async (req) => ({
    webhooks: await subscriptions.list({ all: queryFlag(req.query, 'all'), limit: queryInt(req.query, 'limit', { min: 1, max: 1000, default: 1000 }) }),
  }));

  app.get('/webhooks/:id', { config: { role: 'admin' } }, async (req) => {
    const id = paramString(req.params, 'id');
    const sub = await subscriptions.get(id);
    if (!sub) throw notFound(id);
    return sub;
  });

  app.delete('/webhooks/:id', { config: { role: 'admin', action: 'webhook.remove' } }, async (req) => subscriptions.remove(paramString(req.params, 'id')));

  app.get('/webhooks/:id/deliveries', { config: { role: 'admin' } }, async (req) => {
    const id = paramString(req.params, 'id');
    if (!(await subscriptions.get(id))) throw notFound(id);
    const status = queryEnum(req.query, 'status', DELIVERY_STATUSES);
    const limit = queryInt(req.query, 'limit', { min: 1, max: 1000, default: 100 });
    return { deliveries: await deliveries.list(id, { status, limit }) };
  });
}
