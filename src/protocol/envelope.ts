import { Type, type Static } from '@sinclair/typebox';
import { MAX_ID_LENGTH, SAFE_ID_PATTERN } from '../ids.ts';

export const PROTOCOL_VERSION = 1;

/** Ticket, task, join and agent ids: safe in branch names, paths, subjects and derived message ids (src/ids.ts). */
export const Id = Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: SAFE_ID_PATTERN.source });

/**
 * Every message on the wire. `id` is the idempotency key (also sent as `Nats-Msg-Id`);
 * `causation_id` is the id of the message that caused this one, `correlation_id` the id of the
 * first message of the flow (a ticket's creation, typically).
 */
export const Envelope = Type.Object(
  {
    id: Type.String({ minLength: 1, maxLength: 200 }),
    type: Type.String({ minLength: 1, maxLength: 100 }),
    version: Type.Integer({ minimum: 1 }),
    time: Type.String({ minLength: 1, maxLength: 40 }),
    source: Type.String({ minLength: 1, maxLength: 200 }),
    correlation_id: Type.Optional(Type.String({ maxLength: 200 })),
    causation_id: Type.Optional(Type.String({ maxLength: 200 })),
    payload: Type.Unknown(),
  },
  { additionalProperties: false },
);
export type Envelope<P = unknown> = Omit<Static<typeof Envelope>, 'payload'> & { payload: P };

/** Largest accepted message body; bigger input is rejected as `payload_too_large`. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
