import type { MessageScope } from '../messaging/unit-of-work.ts';
import { ApprovalEntity } from '../persistence/index.ts';

export type Decision = 'approved' | 'rejected';

/** Who decided: the principal of an HTTP command, else the sender (a node). */
export function principalOf(source: string | undefined): string {
  return source?.startsWith('http:') ? source.slice('http:'.length) : source ?? 'unknown';
}

/**
 * A person's decision at a human gate of a ticket or a spec, as an `omoi_approval` row keyed by
 * the deciding message's id (a redelivery writes it once). Answers who decided.
 */
export function recordDecision(
  scope: MessageScope,
  d: { entity_kind: 'ticket' | 'spec'; entity_id: string; gate: string; decision: Decision; comment: string | undefined; source: string | undefined },
): string {
  const by = principalOf(d.source);
  scope.uow.upsert(ApprovalEntity, ['id'], {
    id: scope.cause.id, entity_kind: d.entity_kind, entity_id: d.entity_id, gate: d.gate, decision: d.decision, comment: d.comment ?? null, principal: by, at: scope.now,
  });
  return by;
}
