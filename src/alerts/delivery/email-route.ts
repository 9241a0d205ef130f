import os from 'node:os';
import type { Static } from '@sinclair/typebox';
import nodemailer from 'nodemailer';
import { errorMessage } from '../../errors.ts';
import type { EmailRoute } from '../alerts-config.ts';
import type { AlertNotification } from '../alert-kinds.ts';
import { RouteRejectedError, RouteUnavailableError, type RouteReply } from '../../delivery/delivery-errors.ts';
import type { DeliveryRequest } from './route-context.ts';
import { resolveSecret } from './route-secret.ts';

/** `[omoi] <severity> <title>` on one line (a title never breaks the header). */
export function emailSubject(n: AlertNotification, status: DeliveryRequest['status']): string {
  return `[omoi] ${status === 'test' ? 'test ' : ''}${n.severity} ${n.title}`.replace(/[\r\n]+/g, ' ');
}

/** The plain-text body: the title, every field, the alert's identity and times, the dashboard link. */
export function emailText(n: AlertNotification, status: DeliveryRequest['status'], dashboardUrl?: string): string {
  const rows: Array<[string, string]> = [
    ['kind', n.kind], ['severity', n.severity], ['status', status], ['count', String(n.count)],
    ...Object.entries(n.fields),
    ['alert', n.alert_id], ['notification', String(n.notification)], ['fingerprint', n.fingerprint],
    ['first raised', n.first_raised_at], ['last raised', n.last_raised_at],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = [n.title, '', ...rows.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v}`)];
  if (dashboardUrl) lines.push('', `Dashboard: ${dashboardUrl}`);
  return lines.join('\n') + '\n';
}

/**
 * E-mail over SMTP (nodemailer), one connection per message. `secure` defaults to true on port
 * 465 (TLS from the start); otherwise STARTTLS is used when the server offers it. Answers the
 * server's reply line (`250 ...`). An SMTP 5xx (the server refused for good) →
 * `RouteRejectedError` `route_refused`; a 4xx, a refused connection, a timeout →
 * `RouteUnavailableError`.
 */
export async function sendEmail(route: Static<typeof EmailRoute>, req: DeliveryRequest): Promise<RouteReply> {
  const { smtp } = route;
  const password = smtp.password === undefined ? undefined : resolveSecret(smtp.password, { route: req.routeName, setting: 'smtp.password' }, req.env);
  const transport = nodemailer.createTransport({
    host: smtp.host, port: smtp.port, secure: smtp.secure ?? smtp.port === 465,
    auth: smtp.user ? { user: smtp.user, pass: password } : undefined,
    connectionTimeout: req.timeoutMs, greetingTimeout: req.timeoutMs, socketTimeout: req.timeoutMs,
  });
  try {
    const info = await transport.sendMail({
      from: route.from ?? `omoi <omoi@${os.hostname()}>`,
      to: route.to,
      subject: emailSubject(req.notification, req.status),
      text: emailText(req.notification, req.status, req.dashboardUrl),
      headers: { 'Omoi-Delivery': req.deliveryId },
    });
    return { answer: info.response };
  } catch (err) {
    throw smtpFailure(err);
  } finally {
    transport.close();
  }
}

/** nodemailer's error → ours: `responseCode` is the SMTP reply code when the server answered. */
function smtpFailure(err: unknown): Error {
  const e = err as { responseCode?: number; response?: string; code?: string };
  const answer = e.response ?? errorMessage(err);
  if (typeof e.responseCode === 'number' && e.responseCode >= 500) return new RouteRejectedError('route_refused', `SMTP server refused: ${answer}`, { answer });
  if (e.code === 'ETIMEDOUT') return new RouteUnavailableError('route_timeout', `SMTP server did not answer in time: ${answer}`, { answer });
  return new RouteUnavailableError('route_unavailable', `SMTP: ${answer}`, { answer });
}
