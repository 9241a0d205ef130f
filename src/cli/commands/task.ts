import { nodeApi } from '../node-api.ts';

export interface TaskRetryOptions { url?: string; reason?: string; json?: boolean }

/**
 * `omoi task retry T TASK`: `POST /api/tickets/<T>/tasks/<TASK>/retry` (operator token), the call
 * the dashboard's Retry button makes. The node answers 202: the ticket's actor retries the task,
 * or refuses it (an `error.rejected` event and a dead letter: `task_not_retryable`, `ticket_ended`, `not_found`).
 */
export async function taskRetry(ticket: string, taskId: string, opts: TaskRetryOptions): Promise<string> {
  const body = opts.reason === undefined ? {} : { reason: opts.reason };
  const answer = await nodeApi(opts.url).call<{ ticket_id: string; task_id: string; message_id: string }>(
    'POST', `/api/tickets/${encodeURIComponent(ticket)}/tasks/${encodeURIComponent(taskId)}/retry`, body,
  );
  if (opts.json) return JSON.stringify(answer, null, 2);
  return `retry of task ${answer.task_id} of ${answer.ticket_id} accepted (message ${answer.message_id}); watch it with omoi sub 'omoi.evt.task.>' --pretty`;
}
