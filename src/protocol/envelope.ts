import { Type, type Static } from '@sinclair/typebox';

export const PROTOCOL_VERSION = 1;

/** Identifiers that travel in subjects and branch names. */
export const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' });

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
