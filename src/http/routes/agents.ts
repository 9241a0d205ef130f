import type { FastifyInstance } from 'fastify';
import { ConflictError, NotFoundError } from '../../errors.ts';
import { AgentEntity } from '../../persistence/index.ts';
import { generateAgentKeyPair } from '../agent-keys.ts';
import type { HttpDeps } from '../deps.ts';
import { newAgentId } from '../ids.ts';
import { plainRow } from '../plain-row.ts';
import { bodyObject, paramString, queryString } from '../request-input.ts';
import { submitCommand } from '../submit-command.ts';

/**
 * Agents (read: viewer; change — register, heartbeat, rotate a key, drain, undrain, remove: admin; budget: operator). Registration generates an ed25519 key pair: the public key travels in
 * `agent.register`, the private key is in the 201 answer only — never stored, logged or
 * published, so a lost key means registering again, or an admin's `rotate-key`.
 */
export async function agentRoutes(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get('/agents', { config: { role: 'viewer' } }, async (req) => {
    const status = queryString(req.query, 'status', 50);
    const agents = await deps.db.em().find(AgentEntity, status ? { status } : {}, { orderBy: { id: 'asc' } });
    return { agents: agents.map(plainRow) };
  });

  app.post('/agents', { config: { role: 'admin', action: 'agent.register' } }, async (req, reply) => {
    const body = bodyObject(req.body);
    const keys = generateAgentKeyPair();
    const agent_id = body.agent_id === undefined ? newAgentId() : body.agent_id;
    const { id } = await submitCommand(deps, req, 'agent.register', { ...body, agent_id, public_key: keys.publicKey });
    return reply.code(201).send({ agent_id, message_id: id, public_key: keys.publicKey, private_key: keys.privateKey });
  });

  app.post('/agents/:id/heartbeat', { config: { role: 'admin', action: 'agent.heartbeat' } }, async (req, reply) => {
    const agent_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, 'agent.heartbeat', { ...bodyObject(req.body), agent_id }, { params: { agent_id: 'id' } });
    return reply.code(202).send({ agent_id, message_id: id });
  });

  // A new key pair for a remote agent (its old key is refused from then on). The private key
  // is in the answer only, as at registration.
  app.post('/agents/:id/rotate-key', { config: { role: 'admin', action: 'agent.rotate_key' } }, async (req, reply) => {
    const agent_id = paramString(req.params, 'id');
    const agent = await deps.db.em().findOne(AgentEntity, { id: agent_id });
    if (!agent || agent.status === 'removed') throw new NotFoundError('agent', agent_id);
    if (agent.kind !== 'remote') throw new ConflictError('agent_not_rotatable', `agent ${agent_id} is a node's own agent: it has no key to rotate`);
    const keys = generateAgentKeyPair();
    const { id } = await submitCommand(deps, req, 'agent.rotate_key', { agent_id, public_key: keys.publicKey }, { params: { agent_id: 'id' } });
    return reply.code(202).send({ agent_id, message_id: id, public_key: keys.publicKey, private_key: keys.privateKey });
  });

  // Budgets are an operator's to raise, like a ticket's (absent fields kept, null clears).
  app.put('/agents/:id/budget', { config: { role: 'operator', action: 'agent.set_budget' } }, async (req, reply) => {
    const agent_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, 'agent.set_budget', { ...bodyObject(req.body), agent_id }, { params: { agent_id: 'id' } });
    return reply.code(202).send({ agent_id, message_id: id });
  });

  // Drain (no new attempts; running ones finish) and its end: an admin's, like removing the agent.
  for (const [action, type] of [['drain', 'agent.drain'], ['undrain', 'agent.undrain']] as const) {
    app.post(`/agents/:id/${action}`, { config: { role: 'admin', action: type } }, async (req, reply) => {
      const agent_id = paramString(req.params, 'id');
      const { id } = await submitCommand(deps, req, type, { ...bodyObject(req.body), agent_id }, { params: { agent_id: 'id' } });
      return reply.code(202).send({ agent_id, message_id: id });
    });
  }

  app.delete('/agents/:id', { config: { role: 'admin', action: 'agent.deregister' } }, async (req, reply) => {
    const agent_id = paramString(req.params, 'id');
    const { id } = await submitCommand(deps, req, 'agent.deregister', { ...bodyObject(req.body), agent_id }, { params: { agent_id: 'id' } });
    return reply.code(202).send({ agent_id, message_id: id });
  });
}
