import type { BreakerName, Breakers } from '../../breakers/breakers.ts';
import type { AlertRoute } from '../alerts-config.ts';
import { RouteUnavailableError, type RouteReply } from '../../delivery/delivery-errors.ts';
import { sendEmail } from './email-route.ts';
import type { DeliveryRequest } from './route-context.ts';
import { sendSlack } from './slack-route.ts';
import { sendWebhook } from './webhook-route.ts';

export type RouteType = AlertRoute['type'];
/** Route types: a fixed set (a metric label). */
export const ROUTE_TYPES = ['webhook', 'slack', 'email'] as const satisfies readonly RouteType[];

/** The breaker around a route type: HTTP routes share `webhook`, e-mail has `smtp`; the key is the route's name. */
export function breakerOf(type: RouteType): BreakerName {
  return type === 'email' ? 'smtp' : 'webhook';
}

/** Sends one request through the route, whatever its type (no breaker: `omoi alert-deliveries test`). */
export function sendThrough(route: AlertRoute, req: DeliveryRequest): Promise<RouteReply> {
  switch (route.type) {
    case 'webhook': return sendWebhook(route, req);
    case 'slack': return sendSlack(route, req);
    case 'email': return sendEmail(route, req);
  }
}

/**
 * `sendThrough` behind the route's breaker (`breakerOf`, keyed by route name). Only
 * `RouteUnavailableError`s count towards opening it: a refusal is this route's configuration,
 * not a dead receiver. An open breaker throws `CircuitOpenError` without calling.
 */
export function sendGuarded(breakers: Breakers, route: AlertRoute, req: DeliveryRequest): Promise<RouteReply> {
  return breakers.run(breakerOf(route.type), req.routeName, () => sendThrough(route, req), (err) => err instanceof RouteUnavailableError);
}
