import type { KeyObject } from 'node:crypto';
import { errorMessage, RetryableError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { Database } from '../persistence/index.ts';
import {
  agentSource, newAgentSource, ProtocolError, SIGNED_AGENT_TYPES, publicKeyOf, readAgentHeaders, verifyAgentMessage, type Envelope, type PayloadOf,
} from '../protocol/index.ts';

/** One received message, as the authenticator needs it. */
export interface ReceivedMessage {
  subject: string;
  data: Uint8Array;
  header: (name: string) => string | undefined;
  /** Its `OMOI_IN` stream sequence: a redelivery has the same one, a replay another. */
  streamSeq: number;
}

interface StoredAgent { key: KeyObject | undefined; live: boolean }

/**
 * The ingress router's check of signed agent messages (src/protocol/agent-signature.ts):
 * headers present, `Omoi-Agent` the agent the payload names, the signature by the key stored
 * for it in `omoi_agent` (or, for a new agent's `agent.register`, by the key it registers),
 * the time within `maxAgeMs`, and the id never used before by that agent (`omoi_agent_message`).
 * Refusals are `ProtocolError`s (`bad_signature`, `replayed`): terminal. A database error is
 * not: the router redelivers the message.
 */
export class AgentAuthenticator {
  /** Keys read at most `cacheMs` ago: a rotated key is refused at most that much later. */
  private readonly keys = new Map<string, { agent: StoredAgent; at: number }>();
  private lastPrune = 0;

  constructor(
    private readonly deps: { db: Database; log: Logger; maxAgeMs: number; cacheMs?: number; now?: () => Date },
  ) {}

  requires(type: string): boolean {
    return SIGNED_AGENT_TYPES.has(type);
  }

  /** The envelope to forward, its `source` naming the agent that signed it; throws a refusal. */
  async authenticate(m: ReceivedMessage, env: Envelope): Promise<Envelope> {
    const claim = readAgentHeaders(m.header);
    if (claim.msgId !== env.id) throw new ProtocolError('bad_signature', `the envelope's id ${JSON.stringify(env.id)} is not its Nats-Msg-Id ${JSON.stringify(claim.msgId)}`, '/id');
    const named = (env.payload as { agent_id?: string }).agent_id;
    if (named !== undefined && named !== claim.agentId) {
      throw new ProtocolError('bad_signature', `signed by agent ${claim.agentId} for agent ${named}`, '/payload/agent_id');
    }
    let resolved = await this.resolve(claim.agentId, env, false);
    try {
      verifyAgentMessage({ subject: m.subject, body: m.data, claim, publicKey: resolved.key, now: this.now(), maxAgeMs: this.deps.maxAgeMs });
    } catch (err) {
      // A key read before a rotation (under a second ago) must not refuse the new key's messages.
      if (!resolved.cached || !(err instanceof ProtocolError && err.code === 'bad_signature')) throw err;
      resolved = await this.resolve(claim.agentId, env, true);
      verifyAgentMessage({ subject: m.subject, body: m.data, claim, publicKey: resolved.key, now: this.now(), maxAgeMs: this.deps.maxAgeMs });
    }
    await this.remember(claim.agentId, claim.msgId, m.streamSeq);
    return { ...env, source: resolved.source };
  }

  /** The key that must have signed the message, and the source that proves. */
  private async resolve(agentId: string, env: Envelope, fresh: boolean): Promise<{ key: KeyObject; source: string; cached: boolean }> {
    const { agent: stored, cached } = await this.stored(agentId, fresh);
    if (env.type === 'agent.register' && !(stored?.live && stored.key)) {
      // A new agent (or a removed one, or one registered before keys were checked): it proves it
      // holds the key it registers. Only a message signed by a stored key may replace one.
      const registered = (env.payload as PayloadOf<'agent.register'>).public_key;
      if (!registered) throw new ProtocolError('bad_signature', `agent.register of a new remote agent must carry its public_key and be signed with it`, '/payload/public_key');
      return { key: publicKeyOf(registered, agentId), source: newAgentSource(agentId), cached };
    }
    // Retried (the router naks it, up to OMOI_MAX_DELIVER deliveries, then dead-letters it with
    // this code): an agent's heartbeat may overtake its registration, and an agent's NATS user
    // cannot watch the events that would tell it the registration was applied.
    if (!stored) throw new RetryableError('bad_signature', `unknown agent ${agentId}: register it first`);
    if (!stored.key) throw new ProtocolError('bad_signature', `agent ${agentId} has no public key: its messages cannot be checked (register it with one, or rotate its key over HTTP)`);
    return { key: stored.key, source: agentSource(agentId), cached };
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  /** The agent's row; only keys are cached (an unknown agent may register any moment). */
  private async stored(agentId: string, fresh: boolean): Promise<{ agent: StoredAgent | undefined; cached: boolean }> {
    const now = Date.now();
    const hit = this.keys.get(agentId);
    if (!fresh && hit && now - hit.at < (this.deps.cacheMs ?? 1_000)) return { agent: hit.agent, cached: true };
    const rows = await this.deps.db.em().getConnection().execute('select public_key, status from omoi_agent where id = ?', [agentId]) as Array<{ public_key: string | null; status: string }>;
    const row = rows[0];
    // A stored key that does not parse signs nothing: treated like no key.
    const agent = row ? { key: row.public_key ? this.parse(row.public_key, agentId) : undefined, live: row.status !== 'removed' } : undefined;
    if (this.keys.size >= 10_000) this.keys.clear();
    if (agent?.key) this.keys.set(agentId, { agent, at: now });
    else this.keys.delete(agentId);
    return { agent, cached: false };
  }

  private parse(pem: string, agentId: string): KeyObject | undefined {
    try {
      return publicKeyOf(pem, agentId);
    } catch (err) {
      this.deps.log.warn({ agent: agentId, err: errorMessage(err) }, 'stored agent key is unusable');
      return undefined;
    }
  }

  /**
   * Records the id as used; `replayed` if that agent used it before in another message. The
   * same stream sequence again is a redelivery (a failed forward, a crash before the ack).
   * One statement, committed without waiting for its fsync (`synchronous_commit` off for it
   * alone): the router handles messages one at a time, and the table is the last of three
   * guards (`OMOI_IN`'s 10-minute duplicate window, longer than the default max age, and the
   * partition's processed ids come first), so a PostgreSQL crash losing its last rows opens no replay.
   */
  private async remember(agentId: string, msgId: string, streamSeq: number): Promise<void> {
    const conn = this.deps.db.em().getConnection();
    const rows = await conn.execute(
      `insert into omoi_agent_message (agent_id, message_id, stream_seq, at)
       select ?, ?, ?, now() from (select set_config('synchronous_commit', 'off', true)) as async_commit
       on conflict (agent_id, message_id) do update set at = omoi_agent_message.at
       where omoi_agent_message.stream_seq = excluded.stream_seq returning 1 as ok`,
      [agentId, msgId, streamSeq],
    ) as unknown[];
    this.prune();
    if (rows.length === 0) throw new ProtocolError('replayed', `agent ${agentId} already used message id ${JSON.stringify(msgId)}`);
  }

  /** Ids older than twice the max age can no longer be replayed (their time is refused): forgotten. */
  private prune(): void {
    const now = Date.now();
    if (now - this.lastPrune < Math.min(this.deps.maxAgeMs, 60_000)) return;
    this.lastPrune = now;
    this.deps.db.em().getConnection().execute(`delete from omoi_agent_message where at < now() - ?::interval`, [`${2 * this.deps.maxAgeMs} milliseconds`])
      .catch((err) => this.deps.log.warn({ err: errorMessage(err) }, 'could not prune omoi_agent_message'));
  }
}
