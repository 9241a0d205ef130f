import { nodeApi } from '../node-api.ts';
import { textTable } from '../text-table.ts';

interface AlertLine {
  id: string; kind: string; severity: string; status: string; title: string; count: number; fingerprint: string;
  first_raised_at: string; last_raised_at: string; routes: string[]; rule: string | null; fields: Record<string, string>;
  acknowledged_by: string | null; acknowledged_at: string | null; acknowledged_comment: string | null;
  resolved_by: string | null; resolved_at: string | null; resolved_reason: string | null; notification: number;
}

export interface AlertsListOptions { url?: string; status?: string; kind?: string; json?: boolean }
export interface AlertActionOptions { url?: string; comment?: string; json?: boolean }

/** `omoi alerts [list]`: open alerts first (or those of `--status`), as a table or JSON. */
export async function alertsList(opts: AlertsListOptions): Promise<string> {
  const query = new URLSearchParams({ status: opts.status ?? 'open' });
  if (opts.kind) query.set('kind', opts.kind);
  const { alerts } = await nodeApi(opts.url).call<{ alerts: AlertLine[] }>('GET', `/api/alerts?${query}`);
  if (opts.json) return JSON.stringify(alerts, null, 2);
  if (alerts.length === 0) return `no ${opts.status ?? 'open'} alerts`;
  const now = Date.now();
  return textTable(
    ['ID', 'SEVERITY', 'STATUS', 'KIND', 'COUNT', 'AGE', 'TITLE'],
    alerts.map((a) => [a.id, a.severity, a.status, a.kind, String(a.count), age(now - Date.parse(a.first_raised_at)), a.title]),
  );
}

/** `omoi alerts show ID`: every field of one alert. */
export async function alertsShow(id: string, opts: { url?: string; json?: boolean }): Promise<string> {
  const a = await nodeApi(opts.url).call<AlertLine>('GET', `/api/alerts/${encodeURIComponent(id)}`);
  if (opts.json) return JSON.stringify(a, null, 2);
  const lines: Array<[string, string | null | undefined]> = [
    ['id', a.id], ['kind', a.kind], ['severity', a.severity], ['status', a.status], ['title', a.title], ['fingerprint', a.fingerprint],
    ['count', String(a.count)], ['notifications', String(a.notification)], ['first raised', a.first_raised_at], ['last raised', a.last_raised_at],
    ['rule', a.rule ?? '(none: dashboard only)'], ['routes', a.routes.length ? a.routes.join(', ') : 'dashboard'],
    ...Object.entries(a.fields).map(([k, v]): [string, string] => [`field ${k}`, v]),
    ['acknowledged', a.acknowledged_by ? `${a.acknowledged_at} by ${a.acknowledged_by}${a.acknowledged_comment ? `: ${a.acknowledged_comment}` : ''}` : null],
    ['resolved', a.resolved_by ? `${a.resolved_at} by ${a.resolved_by}${a.resolved_reason ? `: ${a.resolved_reason}` : ''}` : null],
  ];
  return lines.filter(([, v]) => v).map(([k, v]) => `${k.padEnd(14)}${v}`).join('\n');
}

/** `omoi alerts ack|resolve ID`: sends the person's action (operator token); answers what the node accepted. */
export async function alertsAct(action: 'acknowledge' | 'resolve', id: string, opts: AlertActionOptions): Promise<string> {
  const body = opts.comment === undefined ? {} : { comment: opts.comment };
  const answer = await nodeApi(opts.url).call<{ alert_id: string; message_id: string }>('POST', `/api/alerts/${encodeURIComponent(id)}/${action}`, body);
  if (opts.json) return JSON.stringify(answer, null, 2);
  return `alert ${answer.alert_id}: ${action === 'acknowledge' ? 'acknowledgement' : 'resolution'} accepted (message ${answer.message_id})`;
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
