import { createHash, randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { ConflictError, NotFoundError } from '../../errors.ts';
import { AgentEntity } from '../../persistence/index.ts';
import { Id, ProtocolError, validatePayload } from '../../protocol/index.ts';
import { generateAgentKeyPair } from '../agent-keys.ts';
import { Accepted, commandRoute, errorAnswer, Row } from '../api-schema.ts';
import type { HttpDeps } from '../deps.ts';
import { newAgentId } from '../ids.ts';
import { plainRow } from '../plain-row.ts';
import { bodyObject, idempotencyKey, paramString, queryString } from '../request-input.ts';
import { requestError, submitCommand } from '../submit-command.ts';

/**
 * Agents (read: viewer; change — register, heartbeat, rotate a key, drain, undrain, shut down, broadcast, remove: admin; budget: operator). Registration generates an ed25519 key pair: the public key travels in
 * `agent.register`, the private key is in the 201 answer only — never stored, logged or
 * published, so a lost key means registering again, or an admin's `rotate-key`.
 */
const tags = ['agents'];
const register = commandRoute('agent.register', { optional: ['agent_id'], setByNode: ['public_key'] });
const heartbeat = commandRoute('agent.heartbeat', { params: { agent_id: 'id' } });
const rotateKey = commandRoute('agent.rotate_key', { params: { agent_id: 'id' }, setByNode: ['public_key'], noBody: true });
const setBudget = commandRoute('agent.set_budget', { params: { agent_id: 'id' } });
const deregister = commandRoute('agent.deregister', { params: { agent_id: 'id' } });
const drain = commandRoute('agent.drain', { params: { agent_id: 'id' } });
const undrain = commandRoute('agent.undrain', { params: { agent_id: 'id' } });
const shutdown = commandRoute('agent.shutdown', { params: { agent_id: 'id' } });
// The operator writes the message; the node fans it out, one command per agent, under one control id.
const broadcast = commandRoute('agent.broadcast', { setByNode: ['agent_id', 'control_id'] });

/** A new key pair's answer: the private key is in it, once. */
const KeyPair = {
  public_key: Type.String({ description: 'the agent\'s ed25519 public key (PEM, SPKI)' }),
  private_key: Type.String({ description: 'its private key (PEM, PKCS#8): in this answer only, never stored; the agent signs its messages with it' }),
};

export async function agentRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/agents', {
    config: { role: 'viewer' },
    schema: {
      summary: 'List the agents', tags,
      querystring: Type.Object({ status: Type.Optional(Type.String({ maxLength: 50, description: 'only agents in this status (`healthy`, `degraded`, `failed`, `removed`, …)' })) }),
      response: { 200: Type.Object({ agents: Type.Array(Row('an `omoi_agent` row')) }, { description: 'The agents, by id' }) },
    },
  }, async (req) => {
    const status = queryString(req.query, 'status', 50);
    const agents = await deps.db.em().find(AgentEntity, status ? { status } : {}, { orderBy: { id: 'asc' } });
    return { agents: agents.map(plainRow) };
  });

  app.post('/agents', {
    config: { role: 'admin', action: 'agent.register' },
    schema: {
      summary: 'Register a remote agent: the node makes its ed25519 key pair (without `agent_id`, an id too)', tags, ...register.schema,
      response: { 201: Accepted({ agent_id: Id, ...KeyPair }, 'Registered: keep the private key, it is not shown again') },
    },
  }, async (req, reply) => {
    const body = bodyObject(req.body);
    const keys = generateAgentKeyPair();
    const agent_id = body.agent_id === undefined ? newAgentId() : body.agent_id;
    const { id } = await submitCommand(deps, req, register, { ...body, agent_id, public_key: keys.publicKey });
    return reply.code(201).send({ agent_id, message_id: id, public_key: keys.publicKey, private_key: keys.privateKey });
  });

  app.post('/agents/:id/heartbeat', {
    config: { role: 'admin', action: 'agent.heartbeat' },
    schema: { summary: 'A heartbeat on an agent\'s behalf', tags, ...heartbeat.schema, response: { 202: Accepted({ agent_id: Id }) } },
  }, async (req, reply) => {
    const agent_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, heartbeat, { ...bodyObject(req.body), agent_id });
    return reply.code(202).send({ agent_id, message_id: id });
  });

  // A new key pair for a remote agent (its old key is refused from then on). The private key
  // is in the answer only, as at registration.
  app.post('/agents/:id/rotate-key', {
    config: { role: 'admin', action: 'agent.rotate_key' },
    schema: {
      summary: 'A new key pair for a remote agent (its old key is refused from then on)', tags, ...rotateKey.schema,
      response: {
        202: Accepted({ agent_id: Id, ...KeyPair }, 'Accepted: keep the private key, it is not shown again'),
        404: errorAnswer('`not_found`: no such agent, or it was removed'),
        409: errorAnswer('`agent_not_rotatable`: a node\'s own agent has no key'),
      },
    },
  }, async (req, reply) => {
    const agent_id = paramString(req.params, 'id');
    const agent = await deps.db.em().findOne(AgentEntity, { id: agent_id });
    if (!agent || agent.status === 'removed') throw new NotFoundError('agent', agent_id);
    if (agent.kind !== 'remote') throw new ConflictError('agent_not_rotatable', `agent ${agent_id} is a node's own agent: it has no key to rotate`);
    const keys = generateAgentKeyPair();
    const { id } = await submitCommand(deps, req, rotateKey, { agent_id, public_key: keys.publicKey });
    return reply.code(202).send({ agent_id, message_id: id, public_key: keys.publicKey, private_key: keys.privateKey });
  });

  // Budgets are an operator's to raise, like a ticket's (absent fields kept, null clears).
  app.put('/agents/:id/budget', {
    config: { role: 'operator', action: 'agent.set_budget' },
    schema: { summary: 'Raise, change or clear an agent\'s budget', tags, ...setBudget.schema, response: { 202: Accepted({ agent_id: Id }) } },
  }, async (req, reply) => {
    const agent_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, setBudget, { ...bodyObject(req.body), agent_id });
    return reply.code(202).send({ agent_id, message_id: id });
  });

  // Drain (no new attempts; running ones finish), its end, and a shutdown (drained, then removed
  // once its attempts end): an admin's, like removing the agent. Each is told to the agent too.
  for (const [action, command, summary] of [
    ['drain', drain, 'Drain an agent: it finishes its running attempts and is offered no new ones'],
    ['undrain', undrain, 'End an agent\'s drain: it is offered tasks again'],
    ['shutdown', shutdown, 'Shut an agent down: drained and told so; removed (reason `shutdown`) once its running attempts end'],
  ] as const) {
    app.post(`/agents/:id/${action}`, {
      config: { role: 'admin', action: command.type },
      schema: { summary, tags, ...command.schema, response: { 202: Accepted({ agent_id: Id }) } },
    }, async (req, reply) => {
      const agent_id = paramString(req.params, 'id');
      const { id } = await submitCommand(deps, req, command, { ...bodyObject(req.body), agent_id });
      return reply.code(202).send({ agent_id, message_id: id });
    });
  }

  // One message to every agent that is not removed, on its control channel (no acknowledgement asked).
  app.post('/agents/broadcast', {
    config: { role: 'admin', action: broadcast.type },
    schema: {
      summary: 'Send a message to every agent that is not removed (on its control subject)', tags, ...broadcast.schema,
      response: {
        202: Type.Object({
          control_id: Type.String({ description: 'the broadcast\'s id (the `Idempotency-Key` when one was sent): every agent gets it with this id' }),
          agent_ids: Type.Array(Id, { description: 'the agents it was sent to' }),
          message_ids: Type.Array(Type.String(), { description: 'the `agent.broadcast` command of each, in the same order' }),
        }, { description: 'Accepted: one `agent.broadcast` per agent was published durably' }),
      },
    },
  }, async (req, reply) => {
    const body = bodyObject(req.body);
    const control_id = idempotencyKey(req.headers) ?? `broadcast-${randomUUID()}`;
    // Checked once before the fan-out, so a bad body is refused even when no agent would get it.
    try {
      validatePayload('agent.broadcast', { ...body, agent_id: 'any', control_id });
    } catch (err) {
      if (err instanceof ProtocolError) throw requestError(err, broadcast.origin);
      throw err;
    }
    const agents = await deps.db.em().find(AgentEntity, { status: { $ne: 'removed' } }, { orderBy: { id: 'asc' }, fields: ['id'] });
    const message_ids: string[] = [];
    for (const { id: agent_id } of agents) {
      // A retry with the same key sends each agent's command once (the ids are the same).
      const messageId = `broadcast-${createHash('sha256').update(`${control_id}\n${agent_id}`).digest('hex').slice(0, 40)}`;
      message_ids.push((await submitCommand(deps, req, broadcast, { ...body, agent_id, control_id }, messageId)).id);
    }
    return reply.code(202).send({ control_id, agent_ids: agents.map((a) => a.id), message_ids });
  });

  app.delete('/agents/:id', {
    config: { role: 'admin', action: 'agent.deregister' },
    schema: { summary: 'Deregister an agent; its running tasks return to the queue', tags, ...deregister.schema, response: { 202: Accepted({ agent_id: Id }) } },
  }, async (req, reply) => {
    const agent_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, deregister, { ...bodyObject(req.body), agent_id });
    return reply.code(202).send({ agent_id, message_id: id });
  });
}
