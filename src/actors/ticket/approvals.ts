import { assertTicketTransition, TicketState } from '../../dag/index.ts';
import { recordDecision, type Decision } from '../../approvals/record-decision.ts';
import { ConflictError } from '../../errors.ts';
import { emit } from '../../messaging/typed.ts';
import type { PayloadOf } from '../../protocol/index.ts';
import { DeliveryStatus, startPush } from './delivery.ts';
import { cancelTicket } from './finish.ts';
import { setTicket, type Work } from './work.ts';

type Gate = 'before_execute' | 'before_delivery';

/**
 * Human gates of a ticket (`ticket.create` `approvals`): `before_execute` holds the ticket in
 * `awaiting_approval` before anything runs; `before_delivery` holds its delivery
 * (`delivery_status` `awaiting_approval`) after it completed. A decision is recorded in
 * `omoi_approval` (the reusable record of gates: entity kind, id, gate, decision, comment, who,
 * when) and told by `ticket.approved` / `ticket.rejected_at_gate`.
 */

/** Whether the ticket waits at `gate` for this decision (a rejected delivery may still be approved). */
function waitsAt(w: Work, gate: Gate, decision: Decision): boolean {
  const t = w.s.ticket;
  if (gate === 'before_execute') return t.status === TicketState.awaiting_approval;
  return t.delivery_status === DeliveryStatus.awaiting_approval || (decision === 'approved' && t.delivery_status === DeliveryStatus.rejected);
}

/** The gate a decision is for: the one named (it must be waiting), else the one waiting. @throws ConflictError `gate_not_awaiting`. */
function gateOf(w: Work, asked: Gate | undefined, decision: Decision): Gate {
  const gates: Gate[] = asked ? [asked] : ['before_execute', 'before_delivery'];
  const gate = gates.find((g) => waitsAt(w, g, decision));
  if (gate) return gate;
  const t = w.s.ticket;
  throw new ConflictError('gate_not_awaiting', `ticket ${JSON.stringify(t.id)} is not waiting for approval${asked ? ` at ${asked}` : ''} (status ${t.status}${t.delivery_status ? `, delivery ${t.delivery_status}` : ''})`, {
    gate: asked ?? null, status: t.status, delivery_status: t.delivery_status ?? null,
  });
}

/** The decision's row (see recordDecision) and its event. */
function record(w: Work, gate: Gate, decision: Decision, comment: string | undefined): void {
  const by = recordDecision(w.ctx.scope, { entity_kind: 'ticket', entity_id: w.s.ticket.id, gate, decision, comment, source: w.source });
  const event = { ticket_id: w.s.ticket.id, gate, by, ...(comment ? { comment } : {}) };
  emit(w.ctx.scope, decision === 'approved' ? 'ticket.approved' : 'ticket.rejected_at_gate', event);
}

/** `ticket.create` with `before_execute`: the new ticket waits before anything runs. */
export function awaitExecution(w: Work): void {
  if (!(w.s.ticket.approvals ?? []).includes('before_execute')) return;
  assertTicketTransition(w.s.ticket.status, TicketState.awaiting_approval, w.s.ticket.id);
  setTicket(w, { status: TicketState.awaiting_approval });
  emit(w.ctx.scope, 'ticket.awaiting_approval', { ticket_id: w.s.ticket.id, gate: 'before_execute' });
}

/** `ticket.approve`: the ticket starts (its tasks are scheduled next), or its branch is pushed. */
export function approve(w: Work, p: PayloadOf<'ticket.approve'>): void {
  const gate = gateOf(w, p.gate, 'approved');
  record(w, gate, 'approved', p.comment);
  if (gate === 'before_execute') {
    assertTicketTransition(w.s.ticket.status, TicketState.running, w.s.ticket.id);
    setTicket(w, { status: TicketState.running });
  } else {
    startPush(w);
  }
}

/** `ticket.reject`: the ticket is cancelled (`rejected: <comment>`), or its delivery is `rejected`. */
export async function reject(w: Work, p: PayloadOf<'ticket.reject'>): Promise<void> {
  const gate = gateOf(w, p.gate, 'rejected');
  record(w, gate, 'rejected', p.comment);
  if (gate === 'before_execute') return cancelTicket(w, { ticket_id: w.s.ticket.id, reason: `rejected: ${p.comment}` });
  setTicket(w, { delivery_status: DeliveryStatus.rejected, delivery_error: `rejected: ${p.comment}` });
}
