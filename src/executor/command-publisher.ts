import type { JetStreamClient } from '@nats-io/jetstream';
import { encode, lookup, makeEnvelope, partitionOf, Subjects, validatePayload, type CommandDef } from '../protocol/index.ts';

/**
 * Publishes a command from outside a transaction (an effect: a finished task, a finished merge,
 * a timer) to its entity's partition. `id` is both the envelope id and the `Nats-Msg-Id`: the
 * same outcome published twice (a re-run after a crash) is deduplicated by JetStream and by the
 * partition worker's processed-message table. Throws on an unknown type or a payload that
 * breaks the schema (a bug of the caller), or when JetStream does not acknowledge.
 */
export type PublishCommand = (type: string, payload: Record<string, unknown>, id: string) => Promise<void>;

/** A command ready to publish: its partition, subject and encoded envelope. */
export interface EncodedCommand { partition: number; subject: string; body: Uint8Array }

/** Validates and encodes a command for its entity's partition; throws on a caller's bug (see `PublishCommand`). */
export function encodeCommand(type: string, payload: Record<string, unknown>, id: string, partitions: number, source: string): EncodedCommand {
  const def = lookup(type);
  if (def?.kind !== 'command') throw new Error(`publish: ${type} is not a command of the protocol`);
  const valid = validatePayload(type, payload);
  const { entity, id: entityId } = (def as CommandDef).route(valid as never);
  const partition = partitionOf(entity, entityId, partitions);
  return { partition, subject: Subjects.partition(partition, type), body: encode(makeEnvelope(type, valid, { source, id })) };
}

export function commandPublisher(js: JetStreamClient, partitions: number, source: string): PublishCommand {
  return async (type, payload, id) => {
    const c = encodeCommand(type, payload, id, partitions, source);
    await js.publish(c.subject, c.body, { msgID: id });
  };
}
