import type { Ticket } from '../persistence/index.ts';

/**
 * What one push of a completed ticket does, fixed when the push is asked for (the payload of its
 * `omoi_ticket_push` row): the ticket's head goes to `branch` on `remote`, then the pull request
 * command (if any) runs. `repository` is where the node that pushes gets the head's history from.
 */
export interface PushOrder {
  ticket_id: string; title: string; repository: string; base_branch: string;
  remote: string; branch: string; pull_request_command?: string;
}

/** The branch a ticket's delivery pushes to when it names none: the ticket branch's own name. */
export const defaultDeliveryBranch = (ticketId: string) => `omoi/${ticketId}`;

/** The push order of a ticket created with `delivery` (absent fields: the ticket's repository, `omoi/<ticket>`). */
export function pushOrderOf(ticket: Ticket): PushOrder {
  const d = ticket.delivery ?? {};
  return {
    ticket_id: ticket.id, title: ticket.title, repository: ticket.repository, base_branch: ticket.base_branch,
    remote: d.remote ?? ticket.repository, branch: d.branch ?? defaultDeliveryBranch(ticket.id),
    ...(d.pull_request_command ? { pull_request_command: d.pull_request_command } : {}),
  };
}
