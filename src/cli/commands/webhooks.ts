import type { AlertDeliveryStatus } from '../defaults.ts';
import type { SubscriptionView } from '../../webhooks/subscription-store.ts';
import type { WebhookDeliveryView } from '../../webhooks/webhook-delivery-store.ts';
import { nodeApi } from '../node-api.ts';
import { textTable } from '../text-table.ts';

export interface WebhookOptions { url?: string; json?: boolean }

const ERROR_WIDTH = 80;

/** `omoi webhooks add <url> --event GLOB...`: the new subscription and its secret, printed once. */
export async function webhookAdd(target: string, opts: WebhookOptions & { event: string[]; ticket?: string; secret?: string }): Promise<string> {
  const created = await nodeApi(opts.url).call<SubscriptionView & { secret: string }>('POST', '/api/webhooks', {
    url: target, events: opts.event, ...(opts.ticket ? { ticket_id: opts.ticket } : {}), ...(opts.secret ? { secret: opts.secret } : {}),
  });
  if (opts.json) return JSON.stringify(created, null, 2);
  return `${created.id}: ${created.events.join(', ')}${created.ticket_id ? ` of ticket ${created.ticket_id}` : ''} → ${created.url}\n`
    + `secret: ${created.secret}\n(verify Omoi-Signature with it; it is not shown again)`;
}

/** `omoi webhooks list [--all]`: subscriptions, never a secret. */
export async function webhookList(opts: WebhookOptions & { all?: boolean }): Promise<string> {
  const { webhooks } = await nodeApi(opts.url).call<{ webhooks: SubscriptionView[] }>('GET', `/api/webhooks${opts.all ? '?all=true' : ''}`);
  if (opts.json) return JSON.stringify(webhooks, null, 2);
  if (webhooks.length === 0) return 'no webhook subscriptions';
  return textTable(['ID', 'EVENTS', 'TICKET', 'URL', 'ACTIVE', 'CREATED', 'BY'],
    webhooks.map((w) => [w.id, w.events.join(','), w.ticket_id ?? '-', w.url, w.active ? 'yes' : `no (${w.removed_at})`, w.created_at, w.created_by]));
}

/** `omoi webhooks remove <id>`: no new deliveries; pending ones fail `subscription_inactive`. */
export async function webhookRemove(id: string, opts: WebhookOptions): Promise<string> {
  const removed = await nodeApi(opts.url).call<SubscriptionView>('DELETE', `/api/webhooks/${encodeURIComponent(id)}`);
  return `removed ${removed.id} (at ${removed.removed_at})`;
}

/** `omoi webhooks deliveries <id> [--status S]`: one subscription's deliveries, newest first, with their last status. */
export async function webhookDeliveries(id: string, opts: WebhookOptions & { status?: AlertDeliveryStatus; limit?: number }): Promise<string> {
  const query = new URLSearchParams({ limit: String(opts.limit ?? 50) });
  if (opts.status) query.set('status', opts.status);
  const { deliveries } = await nodeApi(opts.url).call<{ deliveries: WebhookDeliveryView[] }>('GET', `/api/webhooks/${encodeURIComponent(id)}/deliveries?${query}`);
  if (opts.json) return JSON.stringify(deliveries, null, 2);
  if (deliveries.length === 0) return `no ${opts.status ? `${opts.status} ` : ''}deliveries for ${id}`;
  return textTable(['ID', 'EVENT', 'TYPE', 'STATUS', 'ATTEMPTS', 'NEXT ATTEMPT', 'LAST HTTP', 'LAST ERROR'],
    deliveries.map((d) => [String(d.id), d.event_id, d.event_type, d.status, String(d.attempts), d.next_attempt_at ?? '-',
      d.last_http_status === null ? '-' : String(d.last_http_status), d.last_error ? shorten(d.last_error, ERROR_WIDTH) : '-']));
}

function shorten(text: string, width: number): string {
  const line = text.replace(/\s*\n\s*/g, ' ');
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}
