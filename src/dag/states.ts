import { ConflictError } from '../errors.ts';

/**
 * States of a ticket.
 *
 * | from      | to                                   | when                                        |
 * |-----------|--------------------------------------|---------------------------------------------|
 * | `open`    | `running`                            | its first task becomes ready                |
 * | `open`    | `awaiting_approval`                  | created with the `before_execute` gate      |
 * | `open`    | `cancelled`                          | cancelled before anything ran               |
 * | `awaiting_approval` | `running`                  | a person approved `before_execute`          |
 * | `awaiting_approval` | `cancelled`                | a person rejected it (reason `rejected: <comment>`), or cancelled it |
 * | `running` | `completed`                          | every task completed; branch at final head  |
 * | `running` | `failed`                             | a task failed for good and nothing can run  |
 * | `running` | `cancelled`                          | cancelled by a person                       |
 * | `failed`  | `running`                            | a person retried the task it failed for and none is failed any more (`task.retry`) |
 *
 * `completed`, `failed` and `cancelled` are terminal (`isTerminal`): nothing the system does
 * leaves them. Only a person's `task.retry` brings a `failed` ticket back to `running`.
 * `awaiting_approval` waits for a person (`ticket.approve`/`ticket.reject`): nothing runs, and
 * no stall sweep flags it. Delivery after `completed` is not a state of the ticket but its
 * `delivery_status` (src/actors/ticket/delivery.ts), so `completed` keeps its meaning.
 */
export const TicketState = {
  open: 'open',
  awaiting_approval: 'awaiting_approval',
  running: 'running',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;
export type TicketState = (typeof TicketState)[keyof typeof TicketState];

/** Legal ticket transitions (see the table on `TicketState`). */
export const TICKET_TRANSITIONS: Readonly<Record<TicketState, readonly TicketState[]>> = {
  open: ['running', 'awaiting_approval', 'cancelled'],
  awaiting_approval: ['running', 'cancelled'],
  running: ['completed', 'failed', 'cancelled'],
  completed: [],
  failed: ['running'],
  cancelled: [],
};

/**
 * States of a task.
 *
 * | from                | to                  | when                                                        |
 * |---------------------|---------------------|-------------------------------------------------------------|
 * | `pending`           | `waiting_for_files` | dependencies done; some ownership claims refused            |
 * | `pending`           | `ready`             | dependencies done; all claims granted at once               |
 * | `pending`           | `blocked`           | a source failed for good, or its join's merge failed        |
 * | `waiting_for_files` | `ready`             | the holder released; all claims granted                     |
 * | `ready`             | `assigned`          | offered to and accepted by a matching agent                 |
 * | `assigned`          | `running`           | the agent started it in its sandbox                         |
 * | `assigned`          | `ready`             | the agent was lost before starting                          |
 * | `running`           | `completed`         | it finished; its commit and result are recorded             |
 * | `running`           | `failed`            | it failed and has no retries left                           |
 * | `running`           | `ready`             | it failed (or its agent was lost) and will be retried       |
 * | `running`           | `blocked`           | it cannot go on without a person (e.g. ownership violation) |
 * | `blocked`           | `ready`             | resumed after a person supplied a resolution                |
 * | `blocked`           | `pending`           | resumed on a supplied merge commit: it claims its files again |
 * | any non-terminal    | `cancelled`         | the task or its ticket was cancelled                        |
 * | `failed`            | `pending`           | a person retried it (`task.retry`): it is scheduled afresh  |
 * | `cancelled`         | `pending`           | the same, for a cancelled task                              |
 * | `failed`, `cancelled` | `blocked`         | retried while a dependency of it is still failed or cancelled |
 *
 * `completed`, `failed` and `cancelled` are terminal (`isTerminal`): nothing the system does
 * leaves them; only a person's `task.retry` takes a failed or cancelled task back. `blocked` is not: it waits for a
 * person (and is always accompanied by a machine-readable reason, stored by its owner).
 * A transition to the same state is not a transition: callers treat repeats as duplicates.
 * Not states but flags beside them, on the rows: a `ready` task no agent matches is
 * `unmatched` (cleared by any change of state); a `running` ticket whose final merge of
 * several sinks is under way is `finalizing`. Neither is ever encoded in `reason`.
 */
export const TaskState = {
  pending: 'pending',
  waiting_for_files: 'waiting_for_files',
  ready: 'ready',
  assigned: 'assigned',
  running: 'running',
  completed: 'completed',
  failed: 'failed',
  blocked: 'blocked',
  cancelled: 'cancelled',
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** Legal task transitions (see the table on `TaskState`). */
export const TASK_TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  pending: ['waiting_for_files', 'ready', 'blocked', 'cancelled'],
  waiting_for_files: ['ready', 'cancelled'],
  ready: ['assigned', 'cancelled'],
  assigned: ['running', 'ready', 'cancelled'],
  running: ['completed', 'failed', 'ready', 'blocked', 'cancelled'],
  blocked: ['ready', 'pending', 'cancelled'],
  completed: [],
  failed: ['pending', 'blocked'],
  cancelled: ['pending', 'blocked'],
};

const TERMINAL: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);

/** True for `completed`, `failed`, `cancelled` (the same for tickets and tasks). */
export function isTerminal(state: TaskState | TicketState): boolean {
  return TERMINAL.has(state);
}

export function isTaskState(value: unknown): value is TaskState {
  return typeof value === 'string' && Object.hasOwn(TASK_TRANSITIONS, value);
}

export function isTicketState(value: unknown): value is TicketState {
  return typeof value === 'string' && Object.hasOwn(TICKET_TRANSITIONS, value);
}

/** Whether a task may move from `from` to `to`. Unknown states are never legal. */
export function canTransition(from: TaskState, to: TaskState): boolean {
  return isTaskState(from) && isTaskState(to) && TASK_TRANSITIONS[from].includes(to);
}

/**
 * @throws TerminalError (a `ConflictError`, HTTP 409) code `illegal_transition` naming the
 * task and both states, with `{ task, from, to }` in `details`.
 */
export function assertTransition(from: TaskState, to: TaskState, taskId: string): void {
  if (!canTransition(from, to)) {
    throw new ConflictError('illegal_transition', `task ${JSON.stringify(taskId)} cannot go from ${from} to ${to}`, {
      task: taskId,
      from,
      to,
    });
  }
}

/** Whether a ticket may move from `from` to `to`. Unknown states are never legal. */
export function canTicketTransition(from: TicketState, to: TicketState): boolean {
  return isTicketState(from) && isTicketState(to) && TICKET_TRANSITIONS[from].includes(to);
}

/** @throws TerminalError (`ConflictError`, 409) code `illegal_transition` naming the ticket and both states. */
export function assertTicketTransition(from: TicketState, to: TicketState, ticketId: string): void {
  if (!canTicketTransition(from, to)) {
    throw new ConflictError(
      'illegal_transition',
      `ticket ${JSON.stringify(ticketId)} cannot go from ${from} to ${to}`,
      { ticket: ticketId, from, to },
    );
  }
}
