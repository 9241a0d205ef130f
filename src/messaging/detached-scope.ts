import type { EntityManager } from '../persistence/index.ts';
import { makeEnvelope, partitionOf } from '../protocol/index.ts';
import { UnitOfWork, type MessageScope } from './unit-of-work.ts';

/**
 * A message scope for a transaction that runs outside every commit round: an escalation, which
 * marks an entity failed from its host's supervisor. What the scope emits and sends is written
 * to the outbox in `em`'s transaction, as rows of the entity's partition, whose holder's sweeper
 * publishes them like any committed effect that was not published at once. `finish` writes them.
 */
export function detachedScope(
  em: EntityManager,
  opts: { partitions: number; source: string; entity: string; id: string; cause: string },
): { scope: MessageScope; finish: () => Promise<void> } {
  const uow = new UnitOfWork(em, opts.partitions, opts.source);
  // The cause names what happened, so the ids derived from it (`<cause>/1`, …) are unique to it.
  const cause = makeEnvelope('actor.supervision', {}, { source: opts.source, id: opts.cause, time: uow.now });
  const scope = uow.scope(cause, partitionOf(opts.entity, opts.id, opts.partitions));
  return { scope, finish: () => uow.finish() };
}
