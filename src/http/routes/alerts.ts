import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors.ts';
import { ALERT_FILTERS } from '../../alerts/alert-store.ts';
import { ALERT_KINDS } from '../../alerts/alert-kinds.ts';
import type { HttpDeps } from '../deps.ts';
import { plainRow } from '../plain-row.ts';
import { bodyObject, paramString, queryEnum, queryInt } from '../request-input.ts';
import { submitCommand } from '../submit-command.ts';

/**
 * Alerts (read: viewer; acknowledge and resolve: operator). A person's action names the alert
 * by id; the route reads its fingerprint (which routes the command to its AlertActor), refuses
 * at once an unknown id (404 `not_found`) or an alert that can no longer take the action (409
 * `alert_resolved`, `alert_acknowledged`), and sends `alert.acknowledge` / `alert.resolve`
 * with the caller's principal as `by`. Each call is audited once (src/http/access.ts).
 */
export async function alertRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/alerts', { config: { role: 'viewer' } }, async (req) => {
    const status = queryEnum(req.query, 'status', ALERT_FILTERS) ?? 'open';
    const kind = queryEnum(req.query, 'kind', ALERT_KINDS);
    const limit = queryInt(req.query, 'limit', { min: 1, max: 1000, default: 200 });
    const alerts = await deps.alerts.list({ status, kind, limit });
    return { alerts: alerts.map(plainRow), open: (await deps.alerts.countOpen()) };
  });

  app.get('/alerts/:id', { config: { role: 'viewer' } }, async (req) => {
    const id = paramString(req.params, 'id');
    const alert = await deps.alerts.get(id);
    if (!alert) throw new NotFoundError('alert', id);
    return plainRow(alert);
  });

  for (const action of ['acknowledge', 'resolve'] as const) {
    const type = `alert.${action}` as const;
    app.post(`/alerts/:id/${action}`, { config: { role: 'operator', action: type } }, async (req, reply) => {
      const alert_id = paramString(req.params, 'id');
      const body = bodyObject(req.body);
      const alert = await deps.alerts.actionable(alert_id, action);
      const payload = { ...body, alert_id, fingerprint: alert.fingerprint, by: req.principal?.name ?? 'unknown' };
      const { id } = await submitCommand(deps, req, type, payload, { params: { alert_id: 'id' } });
      return reply.code(202).send({ alert_id, action, message_id: id });
    });
  }
}
