import { nodeApi } from '../node-api.ts';

export interface GateOptions { url?: string; gate?: 'before_execute' | 'before_delivery'; comment?: string; json?: boolean }

type Accepted = { ticket_id: string; message_id: string };

/**
 * `omoi approve|reject|deliver <ticket>`: `POST /api/tickets/<T>/approve|reject|deliver`
 * (operator token), the calls the dashboard's buttons make. The node answers 202: the ticket's
 * actor decides, or refuses (a dead letter: `gate_not_awaiting`, `delivery_not_failed`, `no_delivery`, `not_found`).
 */
export async function decideGate(action: 'approve' | 'reject', ticket: string, opts: GateOptions): Promise<string> {
  const body = { ...(opts.gate ? { gate: opts.gate } : {}), ...(opts.comment !== undefined ? { comment: opts.comment } : {}) };
  const answer = await nodeApi(opts.url).call<Accepted>('POST', `/api/tickets/${encodeURIComponent(ticket)}/${action}`, body);
  if (opts.json) return JSON.stringify(answer, null, 2);
  const gate = opts.gate ?? 'the gate it waits at';
  return `${action === 'approve' ? 'approval' : 'rejection'} of ${answer.ticket_id} at ${gate} accepted (message ${answer.message_id}); watch it with omoi sub 'omoi.evt.ticket.>' --pretty`;
}

export async function deliverAgain(ticket: string, opts: Pick<GateOptions, 'url' | 'json'>): Promise<string> {
  const answer = await nodeApi(opts.url).call<Accepted>('POST', `/api/tickets/${encodeURIComponent(ticket)}/deliver`, {});
  if (opts.json) return JSON.stringify(answer, null, 2);
  return `delivery of ${answer.ticket_id} accepted (message ${answer.message_id}); watch it with omoi sub 'omoi.evt.ticket.deliver*' --pretty`;
}
