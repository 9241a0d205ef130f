import type { Breakers } from '../../breakers/breakers.ts';
import { RouteRejectedError, type RouteReply } from '../../delivery/delivery-errors.ts';
import type { AttemptContext, DeliveryChannel } from '../../delivery/dispatcher.ts';
import type { DeliveryOutcome } from '../../delivery/delivery-status.ts';
import type { AlertRoute } from '../alerts-config.ts';
import type { DueDelivery } from './delivery-store.ts';
import { sendGuarded } from './route-sender.ts';

/**
 * Alert notifications as the shared dispatcher delivers them: through the route the row names
 * (read from the config for every delivery), behind its breaker. A route no longer configured
 * fails the delivery, not attempted, with `route_unknown`.
 */
export function alertChannel(deps: {
  breakers: Breakers;
  routes: () => Record<string, AlertRoute>;
  dashboardUrl?: () => string | undefined;
  env?: NodeJS.ProcessEnv;
  /** `omoi_alert_deliveries_total` by route type. */
  count?: (routeType: string, outcome: DeliveryOutcome) => void;
}): DeliveryChannel<DueDelivery> {
  return {
    noun: 'alert',
    logFields: (d) => ({ alert: d.alert_id, route: d.route, type: d.route_type }),
    count: (d, outcome) => deps.count?.(deps.routes()[d.route]?.type ?? d.route_type, outcome),
    send(d: DueDelivery, ctx: AttemptContext): Promise<RouteReply> {
      const routes = deps.routes();
      const route = Object.hasOwn(routes, d.route) ? routes[d.route] : undefined;
      if (!route) throw new RouteRejectedError('route_unknown', `no route named ${JSON.stringify(d.route)} in alerts.routes`, {}, false);
      return sendGuarded(deps.breakers, route, {
        routeName: d.route, deliveryId: d.id, notification: d.payload, status: 'raised',
        dashboardUrl: deps.dashboardUrl?.(), timeoutMs: ctx.timeoutMs, signal: ctx.signal, env: deps.env,
      });
    },
  };
}
