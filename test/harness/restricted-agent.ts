import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type Consumer, type JetStreamClient } from '@nats-io/jetstream';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import type { OmoiNode } from '../../src/bootstrap.ts';
import { generateAgentKeyPair } from '../../src/http/agent-keys.ts';
import { connectOptionsOf } from '../../src/messaging/nats-credentials.ts';
import { agentConsumerName, agentInboxPrefix } from '../../src/messaging/nats-permissions.ts';
import { signAgentMessage } from '../../src/protocol/index.ts';
import { runOmoi } from '../cli/run-omoi.ts';
import type { TestContext } from './test-context.ts';
import { waitFor } from './wait-for.ts';

export interface RestrictedAgent {
  nc: NatsConnection;
  js: JetStreamClient;
  /** Its own durable consumer of `omoi.agent.<id>.>` (assignments and stops). */
  consumer: Consumer;
  /** Publishes a report on `omoi.in.<type>`, signed with the agent's key. */
  send(type: string, payload: Record<string, unknown>): Promise<unknown>;
  /** Stops its heartbeats (an agent that shut down). */
  stopHeartbeats(): void;
}

/**
 * A remote agent as an operator sets one up against a node on its embedded nats-server: a NATS
 * user of its own (`omoi nats-user add-agent`, run while the node runs), a signed registration
 * with a fresh ed25519 key, heartbeats every 300 ms (stopped in teardown), its durable consumer.
 * Resolves once the node holds it healthy.
 */
export async function restrictedAgent(t: TestContext, node: OmoiNode, agentId: string, capabilities: string[]): Promise<RestrictedAgent> {
  const seed = path.join(node.config.dataDir, `${agentId}.nk`);
  const added = await runOmoi(['nats-user', 'add-agent', agentId, '--out', seed], { OMOI_DATA_DIR: node.config.dataDir });
  if (added.code !== 0) throw new Error(`omoi nats-user add-agent failed: ${added.stderr}`);
  const nc = await waitFor('the node\'s server to accept the agent', () => connect({
    servers: `nats://${node.nc.getServer()}`, maxReconnectAttempts: 0, ...connectOptionsOf({ nkeyFile: seed, inboxPrefix: agentInboxPrefix(agentId) }),
  }), { timeoutMs: 10_000 });
  t.teardown(() => nc.close());
  const js = jetstream(nc);
  // Every report signed with the agent's key (docs/protocol.md, Signing).
  const keys = generateAgentKeyPair();
  const send = (type: string, payload: Record<string, unknown>) => {
    const subject = `omoi.in.${type}`;
    const body = Buffer.from(JSON.stringify(payload));
    const h = headers();
    for (const [k, v] of Object.entries(signAgentMessage({ subject, body, msgId: randomUUID(), agentId, privateKey: keys.privateKey }))) h.set(k, v);
    return js.publish(subject, body, { headers: h });
  };
  // Heartbeats start at once: one that overtakes the registration is retried, not refused.
  await send('agent.register', { agent_id: agentId, name: `remote ${agentId}`, phase: 'execute', capabilities, version: '1.0.0', kind: 'remote', capacity: 1, public_key: keys.publicKey });
  const beat = setInterval(() => void send('agent.heartbeat', { agent_id: agentId }).catch(() => undefined), 300);
  t.teardown(() => clearInterval(beat));
  const name = agentConsumerName(agentId);
  await (await jetstreamManager(nc)).consumers.add('OMOI_EVT', {
    durable_name: name, filter_subject: `omoi.agent.${agentId}.>`, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
  });
  await waitFor('the agent to be healthy', async () => {
    const rows = await node.db.em().getConnection().execute('select status from omoi_agent where id = ?', [agentId]) as Array<{ status: string }>;
    return rows[0]?.status === 'healthy';
  });
  return { nc, js, consumer: await js.consumers.get('OMOI_EVT', name), send, stopHeartbeats: () => clearInterval(beat) };
}
