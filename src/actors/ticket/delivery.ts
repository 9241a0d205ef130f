import { ConflictError } from '../../errors.ts';
import { pushOrderOf } from '../../delivery-git/push-order.ts';
import { emit } from '../../messaging/typed.ts';
import { TicketPushEntity } from '../../persistence/index.ts';
import type { PayloadOf } from '../../protocol/index.ts';
import { redactUrl } from '../../redact.ts';
import { setTicket, type Work } from './work.ts';

/**
 * A completed ticket's delivery (`ticket.create` `delivery`), beside its status so `completed`
 * keeps its meaning. `delivery_status`:
 *
 *   completed ─► awaiting_approval ─approve─► pushing ─► delivered
 *        │            │       ▲                 │   ▲
 *        │         reject  approve              │   └── ticket.deliver (a new round)
 *        │            ▼       │                 ▼
 *        │          rejected ─┘               failed
 *        └──────── (no before_delivery gate) ──► pushing
 *
 * `pushing` writes an `omoi_ticket_push` row in the ticket's transaction: the push is as
 * durable as the ticket; the dispatcher (src/delivery-git) retries it with backoff and reports
 * its end (`ticket.delivery_report`). `delivered` and `failed` are settled by that report only.
 */
export const DeliveryStatus = {
  awaiting_approval: 'awaiting_approval', pushing: 'pushing', delivered: 'delivered', failed: 'failed', rejected: 'rejected',
} as const;
export type DeliveryStatus = (typeof DeliveryStatus)[keyof typeof DeliveryStatus];

/** The ticket just completed at `head`: its delivery waits for a person, or starts. */
export function deliverOnCompletion(w: Work): void {
  const t = w.s.ticket;
  if (!t.delivery) return;
  if ((t.approvals ?? []).includes('before_delivery')) {
    setTicket(w, { delivery_status: DeliveryStatus.awaiting_approval });
    emit(w.ctx.scope, 'ticket.awaiting_approval', { ticket_id: t.id, gate: 'before_delivery' });
    return;
  }
  startPush(w);
}

/** A new round of the push of the ticket's head: its row, `pushing`, and `ticket.delivering`. */
export function startPush(w: Work): void {
  const t = w.s.ticket;
  const round = (t.delivery_round ?? 0) + 1;
  const order = pushOrderOf(t);
  const now = w.ctx.scope.now;
  w.ctx.scope.uow.upsert(TicketPushEntity, ['ticket_id', 'round'], {
    ticket_id: t.id, round, head: t.head!, status: 'pending', attempts: 0, next_attempt_at: now,
    last_http_status: null, last_answer: null, last_error_code: null, last_error: null, payload: order,
    created_at: now, updated_at: now, delivered_at: null, pull_request_done: false, pull_request_url: null, pull_request_error: null,
  });
  setTicket(w, { delivery_status: DeliveryStatus.pushing, delivery_round: round, delivery_error: null, pull_request_error: null });
  emit(w.ctx.scope, 'ticket.delivering', { ticket_id: t.id, round, head: t.head!, remote: redactUrl(order.remote), branch: order.branch });
  const { pushes } = w.deps;
  w.ctx.scope.uow.afterCommit(() => pushes?.wake());
}

/** `ticket.deliver`: a person tries a failed delivery again. */
export function deliver(w: Work): void {
  const t = w.s.ticket;
  if (!t.delivery) throw new ConflictError('no_delivery', `ticket ${JSON.stringify(t.id)} was created without delivery`);
  if (t.delivery_status !== DeliveryStatus.failed) {
    throw new ConflictError('delivery_not_failed', `ticket ${JSON.stringify(t.id)} delivery is ${t.delivery_status ?? 'not started (the ticket is ' + t.status + ')'}: only a failed delivery is tried again`, { delivery_status: t.delivery_status ?? null });
  }
  startPush(w);
}

/** `ticket.delivery_report`: the push of the current round ended; a report of another round, or a repeat, changes nothing. */
export function deliveryReport(w: Work, p: PayloadOf<'ticket.delivery_report'>): void {
  const t = w.s.ticket;
  if (t.delivery_status !== DeliveryStatus.pushing || t.delivery_round !== p.round) return;
  if (p.outcome === 'delivered') {
    setTicket(w, {
      delivery_status: DeliveryStatus.delivered, delivered_commit: p.commit, delivery_attempts: p.attempts, delivery_error: null,
      pull_request_url: p.pull_request_url ?? t.pull_request_url ?? null, pull_request_error: p.pull_request_error ?? null,
    });
    emit(w.ctx.scope, 'ticket.delivered', {
      ticket_id: t.id, commit: p.commit, attempts: p.attempts,
      ...(p.pull_request_url ? { pull_request_url: p.pull_request_url } : {}), ...(p.pull_request_error ? { pull_request_error: p.pull_request_error } : {}),
    });
    return;
  }
  const error = p.error ?? 'push failed';
  setTicket(w, { delivery_status: DeliveryStatus.failed, delivery_attempts: p.attempts, delivery_error: error });
  emit(w.ctx.scope, 'ticket.delivery_failed', { ticket_id: t.id, attempts: p.attempts, error });
}
