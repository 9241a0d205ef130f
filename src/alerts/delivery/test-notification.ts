import { randomUUID } from 'node:crypto';
import type { AlertNotification } from '../alert-kinds.ts';
import type { AlertsConfig } from '../alerts-config.ts';
import { RouteRejectedError, type RouteReply } from '../../delivery/delivery-errors.ts';
import { sendThrough } from './route-sender.ts';

/** A notification that is no alert: `status: "test"`; its kind and fields are placeholders. */
export function testNotification(route: string, now = new Date()): AlertNotification {
  const at = now.toISOString();
  return {
    alert_id: `test-${randomUUID()}`, kind: 'circuit_open', severity: 'info', fingerprint: `test:${route}`,
    title: `Test notification from omoi through route ${route}`, fields: { route, test: 'true' },
    count: 1, first_raised_at: at, last_raised_at: at, routes: [route], notification: 1,
  };
}

/**
 * Sends a test notification through the configured route `name` now (no breaker, no retry, no
 * row) and resolves with its answer; throws the route's error (`RouteUnavailableError`,
 * `RouteRejectedError`; `route_unknown` for a name no route has).
 */
export async function sendTestNotification(alerts: AlertsConfig, name: string, opts: { timeoutMs?: number; dashboardUrl?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RouteReply> {
  const routes = alerts.routes ?? {};
  const route = Object.hasOwn(routes, name) ? routes[name] : undefined;
  if (!route) {
    const known = Object.keys(routes);
    throw new RouteRejectedError('route_unknown', `no route named ${JSON.stringify(name)} in alerts.routes (${known.length ? `configured: ${known.join(', ')}` : 'none is configured'})`);
  }
  return sendThrough(route, {
    routeName: name, deliveryId: `test-${randomUUID()}`, notification: testNotification(name), status: 'test',
    dashboardUrl: opts.dashboardUrl, timeoutMs: opts.timeoutMs ?? 10_000, env: opts.env,
  });
}
