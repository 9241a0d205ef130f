import type { JsMsg } from '@nats-io/jetstream';
import type { Envelope } from '../protocol/index.ts';
import { AuditChannel, type AuditLog } from './audit-log.ts';
import { auditTarget } from './target.ts';

/** Header `omoi pub` sets (`cli`) so that the audit log tells its commands from other NATS clients'. */
export const CHANNEL_HEADER = 'Omoi-Channel';

/** NATS 2.9 does not tell a consumer who published: an ingress row names this principal, or the
 * remote agent whose signature the router verified (`agent:<id>`). */
export const NATS_PRINCIPAL = 'nats-client';

/** Records one ingress command: routed (`accepted`) or dead-lettered (`refused:<code>`). */
export type IngressAudit = (m: JsMsg, outcome: string, env?: Envelope) => Promise<void>;

/**
 * The ingress router's audit hook. The row's message id is the routed envelope's id (the
 * `Nats-Msg-Id` when the client sent one), so a redelivery of the same message is recorded
 * once; without a routed envelope, the header's id if any.
 */
export function ingressAudit(audit: AuditLog): IngressAudit {
  return async (m, outcome, env) => {
    // A heartbeat is liveness, not a command: thousands of agents every few seconds would bury
    // the log (and cost a write each). A refused one is still recorded.
    if (outcome === 'accepted' && env?.type === 'agent.heartbeat') return;
    await audit.record({
      // Only a routed envelope's source is the verified one; a refused one's is what the sender claimed.
      principal: outcome === 'accepted' && env?.source.startsWith('agent:') ? env.source : NATS_PRINCIPAL,
      role: null,
      channel: m.headers?.get(CHANNEL_HEADER) === AuditChannel.cli ? AuditChannel.cli : AuditChannel.nats,
      command: env?.type ?? m.subject.split('.').slice(2).join('.'),
      target: env && typeof env.payload === 'object' && env.payload !== null ? auditTarget(env.payload as Record<string, unknown>) : null,
      outcome,
      message_id: env?.id ?? (m.headers?.get('Nats-Msg-Id') || null),
    });
  };
}
