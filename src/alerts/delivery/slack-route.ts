import type { Static } from '@sinclair/typebox';
import type { SlackRoute } from '../alerts-config.ts';
import type { AlertNotification, AlertSeverity } from '../alert-kinds.ts';
import type { RouteReply } from '../../delivery/delivery-errors.ts';
import { postJson } from '../../delivery/http-post.ts';
import type { DeliveryRequest } from './route-context.ts';

const ICONS: Record<AlertSeverity, string> = { info: ':information_source:', warning: ':warning:', critical: ':rotating_light:' };

/** A Slack incoming-webhook message: `text` (the notification line, also the fallback) and Block Kit `blocks`. */
export function slackMessage(n: AlertNotification, status: DeliveryRequest['status'], dashboardUrl?: string): { text: string; blocks: unknown[] } {
  const prefix = status === 'test' ? '[test] ' : '';
  const text = `${ICONS[n.severity]} ${prefix}[${n.severity}] ${n.title}`;
  const facts = [`*kind* ${n.kind}`, `*count* ${n.count}`, ...Object.entries(n.fields).map(([k, v]) => `*${k}* ${v}`)];
  const context = [`alert ${n.alert_id} · notification ${n.notification} · first raised ${n.first_raised_at}`];
  if (dashboardUrl) context.push(`<${dashboardUrl}|dashboard>`);
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${escape(text)}*` } },
      // A section holds at most 10 fields.
      { type: 'section', fields: facts.slice(0, 10).map((f) => ({ type: 'mrkdwn', text: escape(f) })) },
      { type: 'context', elements: context.map((c) => ({ type: 'mrkdwn', text: c })) },
    ],
  };
}

/** A Slack-compatible incoming webhook: POSTs `slackMessage`. Errors as `postJson`'s (never the URL: it is the secret). */
export async function sendSlack(route: Static<typeof SlackRoute>, req: DeliveryRequest): Promise<RouteReply> {
  const body = JSON.stringify(slackMessage(req.notification, req.status, req.dashboardUrl));
  return postJson(route.url, body, { 'user-agent': 'omoi-alerts' }, { timeoutMs: req.timeoutMs, signal: req.signal });
}

/** Slack's mrkdwn treats &, < and > as markup. */
function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
