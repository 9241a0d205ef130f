import type { JetStreamClient } from '@nats-io/jetstream';
import { errorMessage, OmoiError, TerminalError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { errorCodeLabel, type Metrics } from '../metrics.ts';
import { encodeCommand, type EncodedCommand } from '../executor/command-publisher.ts';
import { DeadLetterEntity, type Database } from '../persistence/index.ts';
import { ActorType, encode, lookup, makeEnvelope, parseJson, ProtocolError, Subjects } from '../protocol/index.ts';

/** What is known about a message that could not be handled. */
export interface Rejected {
  subject: string;
  data: Uint8Array;
  messageId?: string;
  type?: string;
  deliveries: number;
}

export interface Problem { code: string; reason: string; path?: string }

/** Translate any error into a stable code and a reason naming the problem. */
export function describe(err: unknown): Problem {
  if (err instanceof ProtocolError) return { code: err.code, reason: err.reason, path: err.path };
  if (err instanceof OmoiError) return { code: err.code, reason: err.message };
  return { code: 'handler_error', reason: errorMessage(err) };
}

export function isTerminalInput(err: unknown): boolean {
  return err instanceof ProtocolError || err instanceof TerminalError;
}

/**
 * Dead-letters input: a row in `omoi_dead_letter` holding the original bytes, then an
 * `error.rejected` event on `omoi.errors.<code>`. The caller terminates the NATS message
 * only after this resolves, so nothing is lost if we crash in between (it is redelivered).
 */
export class Rejections {
  constructor(
    private readonly deps: {
      db: Database; js: JetStreamClient; log: Logger; metrics: Metrics; source: string;
      /** The cluster's partition count: a refused ticket of a spec is told to the spec's partition (absent: not told). */
      partitions?: number;
    },
  ) {}

  async reject(msg: Rejected, problem: Problem): Promise<number> {
    const { db, js, log, metrics, source } = this.deps;
    const em = db.em();
    const row = em.create(DeadLetterEntity, {
      message_id: msg.messageId ?? null,
      subject: msg.subject,
      type: msg.type ?? null,
      code: problem.code,
      reason: storable(problem.reason, 2_000),
      body: storable(Buffer.from(msg.data).toString('utf8')),
      deliveries: msg.deliveries,
      status: 'open',
      created_at: new Date(),
      resolved_at: null,
    });
    await em.persistAndFlush(row);
    metrics.deadLetters.inc({ code: errorCodeLabel(problem.code) });
    log.warn({ subject: msg.subject, code: problem.code, reason: problem.reason, deadLetter: row.id }, 'input rejected');
    const env = makeEnvelope('error.rejected', {
      code: problem.code, reason: storable(problem.reason, 2_000), subject: msg.subject,
      ...(msg.messageId ? { message_id: msg.messageId } : {}),
      ...(msg.type ? { type: msg.type } : {}),
      ...(problem.path ? { path: problem.path } : {}),
      dead_letter_id: row.id,
    }, { source, id: `dead-letter-${row.id}` });
    const ticketId = ticketCommandTarget(msg);
    // A ticket's watchers (the demo, `nats sub 'omoi.evt.ticket.>'`) learn of the refusal on the ticket's own subject.
    const ticketAnswer = ticketId
      ? makeEnvelope('ticket.rejected', { ticket_id: ticketId, command: msg.type!, code: problem.code, reason: storable(problem.reason, 2_000) }, { source, id: `ticket-rejected-${row.id}` })
      : undefined;
    const specNotice = this.specNotice(msg, problem, row.id!);
    try {
      await js.publish(Subjects.error(problem.code), encode(env), { msgID: env.id });
      if (ticketAnswer) await js.publish(Subjects.event('ticket.rejected'), encode(ticketAnswer), { msgID: ticketAnswer.id });
      if (specNotice) await js.publish(specNotice.subject, specNotice.body, { msgID: `spec-ticket-rejected-${row.id}` });
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'could not publish error event (dead letter row kept)');
    }
    return row.id!;
  }

  /**
   * A spec waits for the ticket it asked for: if that ticket's create is refused (its repository
   * gone, say), the spec is told the ticket failed, as if it had run (`spec.ticket_ended`), so it
   * retries the phase or fails instead of waiting forever.
   */
  private specNotice(msg: Rejected, problem: Problem, deadLetterId: number): EncodedCommand | undefined {
    const spec = specTicketOf(msg);
    if (!spec || !this.deps.partitions) return undefined;
    try {
      return encodeCommand('spec.ticket_ended', { ...spec, status: 'failed', reason: storable(`ticket_rejected: ${problem.code}: ${problem.reason}`, 2_000) },
        `spec-ticket-rejected-${deadLetterId}`, this.deps.partitions, this.deps.source);
    } catch {
      return undefined; // a phase no spec has: not a SpecActor's ticket
    }
  }

}

/** What a refused `ticket.create` of a spec (a phase's or the work ticket) says about it, if it is one. */
function specTicketOf(msg: Rejected): { spec_id: string; ticket_id: string; phase: string } | undefined {
  if (msg.type !== 'ticket.create') return undefined;
  try {
    const body = parseJson(msg.data) as { payload?: Record<string, unknown> } | null;
    const p = body?.payload;
    if (typeof p?.spec_id !== 'string' || typeof p.spec_phase !== 'string' || typeof p.ticket_id !== 'string') return undefined;
    return { spec_id: p.spec_id, ticket_id: p.ticket_id, phase: p.spec_phase };
  } catch {
    return undefined;
  }
}

/** The ticket a refused TicketActor command named, if its body is readable enough to tell. */
function ticketCommandTarget(msg: Rejected): string | undefined {
  const def = msg.type ? lookup(msg.type) : undefined;
  if (def?.kind !== 'command' || def.handledBy !== ActorType.TicketActor) return undefined;
  try {
    // A full envelope, or a bare payload as `nats pub` sends it (see decodeIngress).
    const body = parseJson(msg.data) as { payload?: { ticket_id?: unknown }; ticket_id?: unknown } | null;
    const id = body?.payload?.ticket_id ?? body?.ticket_id;
    return typeof id === 'string' && id.length > 0 && id.length <= 200 ? id : undefined;
  } catch {
    return undefined;
  }
}

/** PostgreSQL text cannot hold NUL: escape it, so a poison message can always be dead-lettered. */
function storable(text: string, max = Number.POSITIVE_INFINITY): string {
  const clean = text.replaceAll('\u0000', '\\u0000');
  return clean.length > max ? `${clean.slice(0, max)}… (${clean.length - max} more characters)` : clean;
}
