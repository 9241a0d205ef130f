import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { ProtocolError } from './codec.ts';

/**
 * Signed remote-agent messages (ed25519). An agent sends, with its message on `omoi.in.<type>`,
 * the NATS headers `Nats-Msg-Id`, `Omoi-Agent`, `Omoi-Time` (ISO-8601 UTC) and
 * `Omoi-Signature` (base64), the signature being over
 *
 *   "omoi-agent-v1\n" + subject + "\n" + msgId + "\n" + time + "\n" + agentId + "\n" + <body bytes>
 *
 * Binding the subject, id, time and agent stops a signature from being reused for another
 * type, another id, later, or by another agent. Nothing here but node's `crypto`: an agent in
 * another language does the same in a few lines (docs/protocol.md, *Signing*).
 */
export const SIGNATURE_CONTEXT = 'omoi-agent-v1';

/** What a remote agent sends on `omoi.in` that must carry its signature. */
export const SIGNED_AGENT_TYPES: ReadonlySet<string> = new Set(['agent.register', 'agent.heartbeat', 'agent.deregister', 'agent.rotate_key', 'agent.stop_acknowledged', 'agent.control_acknowledged', 'task.started', 'task.progress', 'task.complete', 'task.fail', 'task.agent_add', 'task.agent_split']);

export const AgentHeader = {
  msgId: 'Nats-Msg-Id',
  agent: 'Omoi-Agent',
  time: 'Omoi-Time',
  signature: 'Omoi-Signature',
} as const;

/** The signed headers of one message, by header name. */
export type AgentHeaders = Record<(typeof AgentHeader)[keyof typeof AgentHeader], string>;

/** The exact bytes an agent signs. */
export function signedBytes(subject: string, msgId: string, time: string, agentId: string, body: Uint8Array | string): Buffer {
  return Buffer.concat([Buffer.from(`${SIGNATURE_CONTEXT}\n${subject}\n${msgId}\n${time}\n${agentId}\n`), Buffer.from(body)]);
}

/** Signs a message with the agent's private key (PEM, PKCS#8): the headers to send with it. */
export function signAgentMessage(m: { subject: string; body: Uint8Array | string; msgId: string; agentId: string; privateKey: string | KeyObject; time?: Date }): AgentHeaders {
  const time = (m.time ?? new Date()).toISOString();
  const key = typeof m.privateKey === 'string' ? createPrivateKey(m.privateKey) : m.privateKey;
  const signature = sign(null, signedBytes(m.subject, m.msgId, time, m.agentId, m.body), key).toString('base64');
  return { [AgentHeader.msgId]: m.msgId, [AgentHeader.agent]: m.agentId, [AgentHeader.time]: time, [AgentHeader.signature]: signature } as AgentHeaders;
}

/** The signature headers of a received message; `bad_signature` when one is missing. */
export interface SignedClaim { agentId: string; msgId: string; time: string; signature: string }

export function readAgentHeaders(get: (name: string) => string | undefined): SignedClaim {
  const claim = { msgId: get(AgentHeader.msgId), agentId: get(AgentHeader.agent), time: get(AgentHeader.time), signature: get(AgentHeader.signature) };
  const missing = ([[claim.msgId, AgentHeader.msgId], [claim.agentId, AgentHeader.agent], [claim.time, AgentHeader.time], [claim.signature, AgentHeader.signature]] as const)
    .filter(([value]) => !value).map(([, name]) => name);
  if (missing.length) throw new ProtocolError('bad_signature', `an agent message must be signed: missing header${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  return claim as SignedClaim;
}

/** A PEM public key (SPKI) as a key object, or `bad_signature` naming the agent. */
export function publicKeyOf(pem: string, agentId: string): KeyObject {
  try {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key`);
    return key;
  } catch (err) {
    throw new ProtocolError('bad_signature', `the public key of agent ${agentId} is not an ed25519 key: ${(err as Error).message}`);
  }
}

/**
 * Checks a received message: the signature against `publicKey`, then its time within
 * `maxAgeMs` of `now` either way (`replayed` otherwise). Throws `ProtocolError`.
 */
export function verifyAgentMessage(m: { subject: string; body: Uint8Array | string; claim: SignedClaim; publicKey: KeyObject; now: Date; maxAgeMs: number }): void {
  const { claim } = m;
  const signature = Buffer.from(claim.signature, 'base64');
  const ok = signature.length === 64 && verify(null, signedBytes(m.subject, claim.msgId, claim.time, claim.agentId, m.body), m.publicKey, signature);
  if (!ok) throw new ProtocolError('bad_signature', `the signature of ${claim.msgId} is not agent ${claim.agentId}'s`);
  const at = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(claim.time) ? Date.parse(claim.time) : Number.NaN;
  if (Number.isNaN(at)) throw new ProtocolError('bad_signature', `${AgentHeader.time} ${JSON.stringify(claim.time.slice(0, 40))} is not an ISO-8601 UTC time`);
  const skew = m.now.getTime() - at;
  if (Math.abs(skew) > m.maxAgeMs) {
    throw new ProtocolError('replayed', `${claim.msgId} was signed at ${claim.time}, ${Math.round(Math.abs(skew) / 1000)} s ${skew > 0 ? 'ago' : 'ahead'}; the limit is ${m.maxAgeMs / 1000} s (OMOI_SIGNATURE_MAX_AGE_MS)`);
  }
}

/** The envelope source the ingress router gives a message signed by the key stored for `agentId`. */
export const agentSource = (agentId: string) => `agent:${agentId}`;
/** ...and an `agent.register` signed by the key it registers (an id with no live key): proof of possession only. */
export const newAgentSource = (agentId: string) => `new-agent:${agentId}`;

/** Whether a source claims to be an agent's: only the ingress router's check may give one. */
export const isAgentSource = (source: string) => source.startsWith('agent:') || source.startsWith('new-agent:');

/** The agent a source names (`agent:<id>`), if the message was signed by that agent's stored key. */
export function agentOfSource(source: string): string | undefined {
  return source.startsWith('agent:') ? source.slice('agent:'.length) : undefined;
}
