import { loadConfig } from '../../config/index.ts';
import { sendTestNotification, type DeliveryView } from '../../alerts/delivery/index.ts';
import type { AlertDeliveryStatus } from '../defaults.ts';
import { nodeApi } from '../node-api.ts';
import { textTable } from '../text-table.ts';

export interface DeliveriesOptions { url?: string; alert?: string; status?: AlertDeliveryStatus; limit?: number; json?: boolean }

const ERROR_WIDTH = 80;

/** `omoi alert-deliveries [--alert ID] [--status S]`: where alert notifications went, newest first (any token). */
export async function listDeliveries(opts: DeliveriesOptions): Promise<string> {
  const query = new URLSearchParams({ limit: String(opts.limit ?? 50) });
  if (opts.status) query.set('status', opts.status);
  if (opts.alert) query.set('alert', opts.alert);
  const { deliveries } = await nodeApi(opts.url).call<{ deliveries: DeliveryView[] }>('GET', `/api/alert-deliveries?${query}`);
  if (opts.json) return JSON.stringify(deliveries, null, 2);
  if (deliveries.length === 0) return `no ${opts.status ? `${opts.status} ` : ''}alert deliveries`;
  return textTable(
    ['ID', 'ALERT', 'N', 'ROUTE', 'TYPE', 'STATUS', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST ANSWER', 'LAST ERROR'],
    deliveries.map((d) => [
      String(d.id), d.alert_id, String(d.notification), d.route, d.route_type, d.status, String(d.attempts), d.next_attempt_at ?? '-',
      d.last_answer ? shorten(d.last_answer, 40) : '-', d.last_error ? shorten(d.last_error, ERROR_WIDTH) : '-',
    ]),
  );
}

/**
 * `omoi alert-deliveries test ROUTE`: sends a test notification (`status: "test"`) through the
 * route as configured here (OMOI_CONFIG's `alerts.routes`, secrets from this environment), now,
 * and prints the route's answer. A failure is thrown with its code (route_unavailable,
 * route_timeout, route_refused, secret_missing, route_unknown).
 */
export async function testRoute(route: string, opts: { timeoutMs?: number }): Promise<string> {
  const config = loadConfig(process.env);
  const reply = await sendTestNotification(config.alerts, route, { timeoutMs: opts.timeoutMs });
  return `route ${route} answered: ${reply.answer ?? (reply.httpStatus ? `HTTP ${reply.httpStatus}` : 'ok')}`;
}

function shorten(text: string, width: number): string {
  const line = text.replace(/\s*\n\s*/g, ' ');
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}
