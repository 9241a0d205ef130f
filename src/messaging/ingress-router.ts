import type { ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { IngressAudit } from '../audit/index.ts';
import { errorMessage } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { messageTypeLabel, type Metrics } from '../metrics.ts';
import { decodeIngress, encode, isAgentSource, lookup, partitionOf, Streams, Subjects, type CommandDef, type Envelope } from '../protocol/index.ts';
import type { AgentAuthenticator } from './agent-authenticator.ts';
import { describe, isTerminalInput, type Rejections } from './rejections.ts';
import { pullOptions, ROUTER_CONSUMER } from './streams.ts';

/**
 * The edge for outside commands: pulls `omoi.in.>` (one durable shared by every node),
 * validates each message with the protocol codec, and republishes it to its entity's
 * partition with the same message id. Bad input is dead-lettered with an error event and
 * terminated; it is never redelivered forever and never reaches an actor.
 */
export class IngressRouter {
  private messages?: ConsumerMessages;
  private done?: Promise<void>;

  constructor(
    private readonly deps: {
      js: JetStreamClient; log: Logger; metrics: Metrics; rejections: Rejections; partitions: number; maxDeliver: number; source: string;
      /** Checks the signature of remote agents' messages. */
      agents: AgentAuthenticator;
      audit?: IngressAudit;
    },
  ) {}

  async start(): Promise<void> {
    const consumer = await this.deps.js.consumers.get(Streams.ingress, ROUTER_CONSUMER);
    this.messages = await consumer.consume(pullOptions(256));
    this.done = (async () => {
      for await (const m of this.messages!) await this.route(m);
    })().catch((err) => this.deps.log.error({ err: errorMessage(err) }, 'ingress router ended'));
  }

  async drain(): Promise<void> {
    await this.messages?.close().catch(() => undefined);
    await this.done;
  }

  /** Validates and forwards one command to its partition; returns the envelope. */
  async forward(env: Envelope): Promise<void> {
    const def = lookup(env.type) as CommandDef;
    const { entity, id } = def.route(env.payload as never);
    const partition = partitionOf(entity, id, this.deps.partitions);
    await this.deps.js.publish(Subjects.partition(partition, env.type), encode(env), { msgID: env.id });
  }

  private async route(m: JsMsg): Promise<void> {
    const type = m.subject.split('.').slice(2).join('.');
    let env: Envelope;
    try {
      env = decodeIngress(m.subject, m.data, m.headers?.get('Nats-Msg-Id') || undefined, this.deps.source);
    } catch (err) {
      await this.reject(m, type, err);
      return;
    }
    try {
      env = await this.authenticate(m, env);
      await this.forward(env);
      this.deps.metrics.handled.inc({ type: messageTypeLabel(type), outcome: 'routed' });
      await this.deps.audit?.(m, 'accepted', env); // before the ack: a redelivery finds the row (same id) and adds none
      m.ack();
    } catch (err) {
      if (isTerminalInput(err) || m.info.deliveryCount >= this.deps.maxDeliver) await this.reject(m, type, err, env);
      else m.nak(1_000);
    }
  }

  /**
   * An agent's report or registration must be signed by that agent: its source becomes
   * `agent:<id>` (whatever the sender wrote). Refusals are terminal; a database error is not.
   */
  private async authenticate(m: JsMsg, env: Envelope): Promise<Envelope> {
    // An unsigned envelope claiming an agent's source is given this node's, as a bare payload is.
    if (!this.deps.agents.requires(env.type)) return isAgentSource(env.source) ? { ...env, source: this.deps.source } : env;
    return this.deps.agents.authenticate({ subject: m.subject, data: m.data, header: (name) => m.headers?.get(name) || undefined, streamSeq: m.info.streamSequence }, env);
  }

  private async reject(m: JsMsg, type: string, err: unknown, env?: Envelope): Promise<void> {
    try {
      const problem = describe(err);
      await this.deps.rejections.reject({ subject: m.subject, data: m.data, messageId: env?.id ?? (m.headers?.get('Nats-Msg-Id') || undefined), type, deliveries: m.info.deliveryCount }, problem);
      await this.deps.audit?.(m, `refused:${problem.code}`, env);
      m.term(); // no reason: nats-server 2.9 ignores "+TERM <reason>"
    } catch (e) {
      this.deps.log.error({ err: errorMessage(e) }, 'could not dead-letter ingress message; will redeliver');
      m.nak(1_000);
    }
  }
}
