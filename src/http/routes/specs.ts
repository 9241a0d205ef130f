import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../../errors.ts';
import { ApprovalEntity, SpecArtifactEntity, SpecEntity, TicketEntity } from '../../persistence/index.ts';
import { Id } from '../../protocol/index.ts';
import { redactUrl } from '../../redact.ts';
import { Accepted, commandRoute, errorAnswer, Limit, type LimitBounds, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { newSpecId } from '../ids.ts';
import { plainRow as plain } from '../plain-row.ts';
import { bodyObject, paramId, paramString, queryInt, queryString } from '../request-input.ts';
import { submitCommand } from '../submit-command.ts';

const LIMIT: LimitBounds = { min: 1, max: 1000, default: 100 };
const tags = ['specs'];

const create = commandRoute('spec.create', { optional: ['spec_id'] });
const replan = commandRoute('spec.replan', { params: { spec_id: 'id' } });
const cancel = commandRoute('spec.cancel', { params: { spec_id: 'id' } });
const approve = commandRoute('spec.approve', { params: { spec_id: 'id' } });
const reject = commandRoute('spec.reject', { params: { spec_id: 'id' } });

/**
 * Specs (read: viewer; change: operator): reads come from PostgreSQL; every change is a command
 * handed to `submit` and answered 202 (the spec's SpecActor applies it, or dead-letters it with
 * its code: `duplicate_spec`, `planner_command_required`, `delivery_required`, `not_found`, `spec_ended`, `gate_not_awaiting`).
 */
export async function specRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/specs', {
    config: { role: 'viewer' },
    schema: {
      summary: 'List specs, newest first', tags,
      querystring: Type.Object({ status: Type.Optional(Type.String({ maxLength: 50, description: 'only specs in this status (`planning`, `executing`, `blocked`, …)' })), limit: Type.Optional(Limit(LIMIT)) }),
      response: { 200: Type.Object({ specs: Type.Array(Row('an `omoi_spec` row (its repository URL without credentials)')) }, { description: 'The specs' }) },
    },
  }, async (req) => {
    const status = queryString(req.query, 'status', 50);
    const limit = queryInt(req.query, 'limit', LIMIT);
    const specs = await deps.db.em().find(SpecEntity, status ? { status } : {}, { orderBy: { created_at: 'desc', id: 'desc' }, limit });
    return { specs: specs.map((s) => ({ ...plain(s), repository: redactUrl(s.repository), ...(s.delivery?.remote ? { delivery: { ...s.delivery, remote: redactUrl(s.delivery.remote) } } : {}) })) };
  });

  app.get('/specs/:id', {
    config: { role: 'viewer' },
    schema: {
      summary: 'One spec with every artifact version (and its gate\'s findings), its tickets and the decisions at its gates', tags,
      params: Type.Object({ id: Id }),
      response: {
        200: Type.Object({
          spec: Row('the `omoi_spec` row (its repository URL and `delivery` remote without credentials)'),
          artifacts: Type.Array(Row('an `omoi_spec_artifact` row: a phase run\'s artifact `body` and its `gate` (`passed`, `findings`)')),
          tickets: Type.Array(Row('a ticket of the spec (`id`, `status`, `spec_phase`, `reason`, `head`; the work ticket\'s `delivery_status`, `delivered_commit`, `pull_request_url`)')),
          decisions: Type.Array(Row('an `omoi_approval` row of the spec: `gate` (the phase), `decision` (`approved`, `rejected`), `comment`, `principal`, `at`')),
        }, { description: 'The spec' }),
        404: errorAnswer('`not_found`: no such spec'),
      },
    },
  }, async (req) => {
    const id = paramId(req.params, 'id');
    const em = deps.db.em();
    const spec = await em.findOne(SpecEntity, { id });
    if (!spec) throw new NotFoundError('spec', id);
    const [artifacts, tickets, decisions] = await Promise.all([
      em.find(SpecArtifactEntity, { spec_id: id }, { orderBy: { created_at: 'asc', phase: 'asc', version: 'asc' } }),
      em.find(TicketEntity, { spec_id: id }, { orderBy: { created_at: 'asc', id: 'asc' }, fields: ['id', 'status', 'spec_phase', 'reason', 'head', 'delivery_status', 'delivered_commit', 'pull_request_url', 'created_at', 'updated_at'] }),
      em.find(ApprovalEntity, { entity_kind: 'spec', entity_id: id }, { orderBy: { at: 'asc', id: 'asc' } }),
    ]);
    // The delivery remote, like the repository, is shown without credentials.
    const delivery = spec.delivery?.remote ? { delivery: { ...spec.delivery, remote: redactUrl(spec.delivery.remote) } } : {};
    return {
      spec: { ...plain(spec), repository: redactUrl(spec.repository), ...delivery }, artifacts: artifacts.map(plain), tickets: tickets.map(plain), decisions: decisions.map(plain),
    };
  });

  app.post('/specs', {
    config: { role: 'operator', action: 'spec.create' },
    schema: { summary: 'Create a spec (without `spec_id`, the node makes one up)', tags, ...create.schema, response: { 202: Accepted({ spec_id: Id }) } },
  }, async (req, reply) => {
    const body = bodyObject(req.body);
    const payload = { ...body, spec_id: body.spec_id === undefined ? newSpecId() : body.spec_id };
    const { id } = await submitCommand(deps, req, create, payload);
    return reply.code(202).send({ spec_id: payload.spec_id, message_id: id });
  });

  app.post('/specs/:id/replan', {
    config: { role: 'operator', action: 'spec.replan' },
    schema: { summary: 'Plan a spec again from a planning phase', tags, ...replan.schema, response: { 202: Accepted({ spec_id: Id }) } },
  }, async (req, reply) => {
    const spec_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, replan, { ...bodyObject(req.body), spec_id });
    return reply.code(202).send({ spec_id, message_id: id });
  });

  app.post('/specs/:id/cancel', {
    config: { role: 'operator', action: 'spec.cancel' },
    schema: { summary: 'Stop a spec (it ends `failed`; its waited-for ticket is cancelled)', tags, ...cancel.schema, response: { 202: Accepted({ spec_id: Id }) } },
  }, async (req, reply) => {
    const spec_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, cancel, { ...bodyObject(req.body), spec_id });
    return reply.code(202).send({ spec_id, message_id: id });
  });

  app.post('/specs/:id/approve', {
    config: { role: 'operator', action: 'spec.approve' },
    schema: { summary: 'Approve the phase a spec waits at (it goes on)', tags, ...approve.schema, response: { 202: Accepted({ spec_id: Id }) } },
  }, async (req, reply) => {
    const spec_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, approve, { ...bodyObject(req.body), spec_id });
    return reply.code(202).send({ spec_id, message_id: id });
  });

  app.post('/specs/:id/reject', {
    config: { role: 'operator', action: 'spec.reject' },
    schema: { summary: 'Reject the phase a spec waits at, with a comment (the phase is planned again)', tags, ...reject.schema, response: { 202: Accepted({ spec_id: Id }) } },
  }, async (req, reply) => {
    const spec_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, reject, { ...bodyObject(req.body), spec_id });
    return reply.code(202).send({ spec_id, message_id: id });
  });
}
