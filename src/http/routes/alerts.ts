import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors.ts';
import { ALERT_FILTERS } from '../../alerts/alert-store.ts';
import { ALERT_KINDS } from '../../alerts/alert-kinds.ts';
import { Accepted, commandRoute, errorAnswer, Limit, type LimitBounds, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { plainRow } from '../plain-row.ts';
import { bodyObject, paramString, queryEnum, queryInt } from '../request-input.ts';
import { submitCommand } from '../submit-command.ts';

const LIMIT: LimitBounds = { min: 1, max: 1000, default: 200 };

/**
 * Alerts (read: viewer; acknowledge and resolve: operator). A person's action names the alert
 * by id; the route reads its fingerprint (which routes the command to its AlertActor), refuses
 * at once an unknown id (404 `not_found`) or an alert that can no longer take the action (409
 * `alert_resolved`, `alert_acknowledged`), and sends `alert.acknowledge` / `alert.resolve`
 * with the caller's principal as `by`. Each call is audited once (src/http/access.ts).
 */
const tags = ['alerts'];
const AlertParams = Type.Object({ id: Type.String({ minLength: 1, description: 'the alert\'s id (`al-<hex>`)' }) });

export async function alertRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/alerts', {
    config: { role: 'viewer' },
    schema: {
      summary: 'List alerts, with the number open', tags,
      querystring: Type.Object({
        status: Type.Optional(Type.Union(ALERT_FILTERS.map((f) => Type.Literal(f)), { default: 'open', description: '`open` is raised or acknowledged' })),
        kind: Type.Optional(Type.Union(ALERT_KINDS.map((k) => Type.Literal(k)))),
        limit: Type.Optional(Limit(LIMIT)),
      }),
      response: { 200: Type.Object({ alerts: Type.Array(Row('an `omoi_alert` row')), open: Type.Integer({ minimum: 0, description: 'alerts open now, whatever the filter' }) }, { description: 'The alerts' }) },
    },
  }, async (req) => {
    const status = queryEnum(req.query, 'status', ALERT_FILTERS) ?? 'open';
    const kind = queryEnum(req.query, 'kind', ALERT_KINDS);
    const limit = queryInt(req.query, 'limit', LIMIT);
    const alerts = await deps.alerts.list({ status, kind, limit });
    return { alerts: alerts.map(plainRow), open: (await deps.alerts.countOpen()) };
  });

  app.get('/alerts/:id', {
    config: { role: 'viewer' },
    schema: {
      summary: 'One alert', tags, params: AlertParams,
      response: { 200: Row('The `omoi_alert` row'), 404: errorAnswer('`not_found`: no such alert') },
    },
  }, async (req) => {
    const id = paramString(req.params, 'id');
    const alert = await deps.alerts.get(id);
    if (!alert) throw new NotFoundError('alert', id);
    return plainRow(alert);
  });

  for (const action of ['acknowledge', 'resolve'] as const) {
    const type = `alert.${action}` as const;
    // The node fills in the fingerprint (from the alert) and `by` (the caller's principal).
    const command = commandRoute(type, { params: { alert_id: 'id' }, setByNode: ['fingerprint', 'by'] });
    app.post(`/alerts/:id/${action}`, {
      config: { role: 'operator', action: type },
      schema: {
        summary: action === 'acknowledge' ? 'Acknowledge an open alert: no more notifications for it' : 'Resolve an open alert', tags, ...command.schema,
        response: {
          202: Accepted({ alert_id: Type.String(), action: Type.Literal(action) }),
          404: errorAnswer('`not_found`: no such alert'),
          409: errorAnswer(`\`alert_resolved\`${action === 'acknowledge' ? ', `alert_acknowledged`' : ''}: the alert can no longer be ${action === 'acknowledge' ? 'acknowledged' : 'resolved'}`),
        },
      },
    }, async (req, reply) => {
      const alert_id = paramString(req.params, 'id');
      const body = bodyObject(req.body);
      const alert = await deps.alerts.actionable(alert_id, action);
      const payload = { ...body, alert_id, fingerprint: alert.fingerprint, by: req.principal?.name ?? 'unknown' };
      const { id } = await submitCommand(deps, req, command, payload);
      return reply.code(202).send({ alert_id, action, message_id: id });
    });
  }
}
