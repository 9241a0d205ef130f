import { TerminalError } from '../errors.ts';

/** The attempt a task API serves: everything it sends is about this ticket, task and attempt. */
export interface AttemptRef { ticket_id: string; task_id: string; attempt: number }

/** One endpoint of the task API: the command it becomes. */
export interface TaskRequest { type: 'task.add' | 'task.split' | 'task.progress'; payload: Record<string, unknown> }

/** `POST /<name>` → the command it sends (see `toCommand`). */
export const TASK_ENDPOINTS = {
  add: 'task.add',
  split: 'task.split',
  progress: 'task.progress',
} as const;
export type TaskEndpoint = keyof typeof TASK_ENDPOINTS;

/**
 * The command of one request, scoped to the attempt by construction: `add` sends the body (a task
 * spec) as `task.add` to the attempt's ticket; `split` sends `{ tasks, continuation }` as
 * `task.split` of the attempt's own task; `progress` sends `{ message?, percent? }` as
 * `task.progress` of the attempt. A body naming another ticket, task or attempt is refused
 * (`not_own_attempt`, 403) rather than silently redirected; the rest is checked by the
 * command's schema when it is published.
 */
export function toCommand(endpoint: TaskEndpoint, body: unknown, own: AttemptRef): TaskRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TerminalError('invalid_body', `the body of /${endpoint} must be a JSON object`, { field: '/' });
  }
  if (endpoint === 'add') return { type: 'task.add', payload: { ticket_id: own.ticket_id, task: body } };
  // The attempt's own ids may be repeated in the body (they are its anyway); others are refused.
  const { ticket_id, task_id, attempt, ...fields } = body as Record<string, unknown>;
  for (const [key, value] of [['ticket_id', ticket_id], ['task_id', task_id], ['attempt', attempt]] as const) {
    if (value !== undefined && value !== own[key]) {
      throw new TerminalError('not_own_attempt', `this attempt may only act on ${key} ${JSON.stringify(own[key])}, not ${JSON.stringify(value)}`, { field: `/${key}` }, 403);
    }
  }
  if (endpoint === 'split') return { type: 'task.split', payload: { ...fields, ticket_id: own.ticket_id, task_id: own.task_id } };
  return { type: 'task.progress', payload: { ...fields, ...own } };
}

/** The HTTP status of a refusal by the TicketActor (an `error.rejected` code): 404, 409 for the task's or ticket's state, else 400. */
export function refusalStatus(code: string): number {
  if (code === 'not_found') return 404;
  if (code === 'ticket_ended' || code === 'illegal_transition' || code === 'wrong_agent') return 409;
  return 400;
}
