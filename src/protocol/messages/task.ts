import { Type } from '@sinclair/typebox';
import { ActorType, OBSERVERS, command, event } from '../define.ts';
import { checkRun, Id, Sha, TaskSpec, TicketRef, Usage } from './common.ts';

const route = (p: { ticket_id: string }) => ({ entity: 'ticket' as const, id: p.ticket_id });
const TaskRef = { ...TicketRef, task_id: Id };
const Attempt = Type.Integer({ minimum: 1, description: 'the attempt being reported; stale attempts are ignored' });

export const TaskAdd = command({
  type: 'task.add',
  description: 'Add a task to a running ticket. A task with two or more dependencies gets a join automatically.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({ ...TicketRef, task: TaskSpec }, { additionalProperties: false }),
  example: { ticket_id: 'T1', task: { id: 'E', depends_on: ['B', 'C'], owns: [], capabilities: [], phase: 'execute', priority: 0, kind: 'command', run: 'make e2e', max_retries: 2, timeout_ms: 600000 } },
});

export const TaskSplit = command({
  type: 'task.split',
  description: 'A running task splits into parallel tasks and a continuation that joins them (and inherits the tasks that depended on the splitting task).',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({ ...TaskRef, tasks: Type.Array(TaskSpec, { minItems: 1, maxItems: 1000 }), continuation: TaskSpec }, { additionalProperties: false }),
  example: {
    ticket_id: 'T1', task_id: 'A',
    tasks: [
      { id: 'A1', depends_on: [], owns: ['src/a/**'], capabilities: [], phase: 'execute', priority: 0, kind: 'command', run: 'make a', max_retries: 2, timeout_ms: 600000 },
      { id: 'A2', depends_on: [], owns: ['src/b/**'], capabilities: [], phase: 'execute', priority: 0, kind: 'command', run: 'make b', max_retries: 2, timeout_ms: 600000 },
    ],
    continuation: { id: 'A3', depends_on: [], owns: [], capabilities: [], phase: 'execute', priority: 0, kind: 'command', run: 'make check', max_retries: 2, timeout_ms: 600000 },
  },
});

export const TaskComplete = command({
  type: 'task.complete',
  description: 'An agent reports a task attempt done, with the commit on the task branch and a JSON result. Duplicates change nothing. A task with a `check` (its `agent.assign` carries it) is done only once its check passed in the attempt\'s sandbox: the report says so in `check` (a `task.check_passed` event follows).',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({
    ...TaskRef, attempt: Attempt, commit: Type.Optional(Sha), result: Type.Optional(Type.Unknown()),
    ownership_warnings: Type.Optional(Type.Array(Type.String(), { description: 'Files changed outside the task\'s claims on a lenient ticket (each becomes a task.ownership_violation event).' })),
    check: Type.Optional(checkRun('The task\'s `check` ran after it and passed (exit code 0). Required when the task has a check: a completion without it fails the attempt retryably (`check_not_run`).')),
    usage: Type.Optional(Usage),
  }, { additionalProperties: false }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 1, commit: '0123456789abcdef0123456789abcdef01234567', result: { summary: 'feature X' }, usage: { model: 'claude-sonnet-4', input_tokens: 12000, output_tokens: 3400, cost_usd: 0.42, wall_ms: 95000 } },
});

export const TaskFail = command({
  type: 'task.fail',
  description: 'An agent reports a task attempt failed. Retried with backoff up to `max_retries`, then the task fails for good. An agent that ran the task\'s `check` after the task succeeded and saw it fail (non-zero exit, timeout) reports `reason: check_failed` with `check` (exit code, the end of its output): a retryable failure, counted against `max_retries`, with a `task.check_failed` event; the next attempt\'s context holds `previous_attempt: {attempt, reason, check: {command, exit_code, timed_out, output}}`.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({
    ...TaskRef, attempt: Attempt, error: Type.String({ maxLength: 20_000 }), retryable: Type.Boolean({ default: true }),
    violations: Type.Optional(Type.Array(Type.String(), { maxItems: 10_000, description: 'Files changed outside the task\'s claims on a strict ticket: the attempt failed for that reason (a task.ownership_violation event names them).' })),
    reason: Type.Optional(Type.Literal('check_failed', { description: 'the task itself succeeded but its `check` exited non-zero or timed out' })),
    check: Type.Optional(checkRun('With reason `check_failed`: how the check ended and the end of its output')),
    usage: Type.Optional(Usage),
  }, { additionalProperties: false }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 1, error: 'check_failed: the check exited with code 1', retryable: true, reason: 'check_failed', check: { exit_code: 1, output: 'FAIL test/x.test.ts\n1 failing' }, usage: { wall_ms: 41000 } },
});

export const TaskCheckPassed = event({
  type: 'task.check_passed',
  description: 'The `check` of a task passed after an attempt succeeded (its agent said so in `task.complete`); the attempt completes.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...TaskRef, attempt: Attempt, command: Type.String() }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 2, command: 'npm test' },
});

export const TaskCheckFailed = event({
  type: 'task.check_failed',
  description: 'The `check` of a task failed after an attempt succeeded (non-zero exit, or it timed out): the attempt failed with reason `check_failed`; `retry`: whether the task is retried (else it failed for good, its retries used up). `output` is the end of the check\'s output (secrets masked, at most 4,000 characters).',
  consumers: OBSERVERS,
  payload: Type.Object({
    ...TaskRef, attempt: Attempt, command: Type.String(), exit_code: Type.Union([Type.Integer(), Type.Null()]), timed_out: Type.Boolean(),
    output: Type.String(), retry: Type.Boolean(),
  }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 1, command: 'npm test', exit_code: 1, timed_out: false, output: 'FAIL test/x.test.ts\n1 failing', retry: true },
});

export const TaskCancel = command({
  type: 'task.cancel',
  description: 'Cancel one task; tasks depending on it are blocked with reason `source_cancelled:<id>`.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({ ...TaskRef, reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }),
  example: { ticket_id: 'T1', task_id: 'B', reason: 'not needed' },
});

export const TaskRetry = command({
  type: 'task.retry',
  description: 'A person retries a task that ended without completing: `failed` (its retries exhausted) or `cancelled`. It is scheduled afresh with a new budget of `max_retries` retries (its attempt numbers go on growing); the tasks its end blocked (`source_failed:<id>`, `source_cancelled:<id>`, and the join it is a source of) are restored; a ticket that `failed` because of it (no other task failed) is `running` again (`ticket.resumed`). Who and why are kept on the task (`retried_by`, `retry_reason`) and in a `task.retried` event. Refused (an `error.rejected` event and a dead letter, by code): an unknown task (`not_found`), a task that did not fail or was not cancelled (`task_not_retryable`), a ticket that is `completed` or `cancelled` (`ticket_ended`).',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({ ...TaskRef, reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }),
  example: { ticket_id: 'T1', task_id: 'B', reason: 'the flaky registry is back' },
});

export const TaskRetried = event({
  type: 'task.retried',
  description: 'A person retried a failed or cancelled task (`task.retry`): its state before (`from`) and now (`status`: `pending`, or `blocked` while another dependency has not recovered), who (`by`: the command\'s source) and why, and the ticket\'s state after it.',
  consumers: OBSERVERS,
  payload: Type.Object({
    ...TaskRef, from: Type.String(), status: Type.String(), by: Type.Optional(Type.String()), reason: Type.Optional(Type.String()),
    attempt_base: Type.Integer({ minimum: 0, description: 'attempts made before this retry: its `max_retries` count from here' }),
    ticket_status: Type.String(),
  }),
  example: { ticket_id: 'T1', task_id: 'B', from: 'failed', status: 'pending', by: 'http:alice', reason: 'the flaky registry is back', attempt_base: 3, ticket_status: 'running' },
});

export const TaskStarted = command({
  type: 'task.started',
  description: 'An agent started an assigned attempt in its sandbox (assigned → running). Stale attempts are ignored.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({ ...TaskRef, attempt: Attempt }, { additionalProperties: false }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 1 },
});

export const TaskRetryDue = command({
  type: 'task.retry_due',
  description: 'Internal timer: a failed attempt\'s backoff has elapsed; the task becomes ready again.',
  handledBy: ActorType.TicketActor,
  ingress: false,
  route,
  payload: Type.Object({ ...TaskRef, attempt: Attempt }, { additionalProperties: false }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 2 },
});

export const TaskExpire = command({
  type: 'task.expire',
  description: 'Internal (attempt deadline of the node supervisor): an `assigned` or `running` attempt showed no progress and no heartbeat of its agent for `OMOI_ATTEMPT_SILENCE_MS`; it is requeued as a retryable failure (counts against `max_retries`), once per attempt, with a `task.expired` event. A stale attempt changes nothing.',
  handledBy: ActorType.TicketActor,
  ingress: false,
  route,
  payload: Type.Object({
    ...TaskRef, attempt: Attempt, agent_id: Type.String(),
    silent_ms: Type.Integer({ minimum: 0, description: 'time since the attempt\'s last sign of life (assignment, start, or its agent\'s heartbeat), ms' }),
  }, { additionalProperties: false }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 1, agent_id: 'agent-7', silent_ms: 125000 },
});

const TaskState = Type.Object({
  ...TaskRef,
  status: Type.String(),
  attempt: Type.Optional(Type.Integer()),
  reason: Type.Optional(Type.String()),
  commit: Type.Optional(Type.String()),
  base: Type.Optional(Type.String()),
  agent_id: Type.Optional(Type.String()),
  result: Type.Optional(Type.Unknown()),
  files: Type.Optional(Type.Array(Type.String())),
});

export const TaskStatusChanged = event({
  type: 'task.status',
  description: 'A task changed state (waiting_for_files, ready, assigned, running, completed, failed, blocked, cancelled), with the reason, attempt and commit when known.',
  consumers: OBSERVERS,
  payload: TaskState,
  example: { ticket_id: 'T1', task_id: 'B', status: 'completed', attempt: 1, commit: '0123456789abcdef0123456789abcdef01234567' },
});

export const TaskExpired = event({
  type: 'task.expired',
  description: 'An attempt passed its deadline (no progress, its agent silent) and was requeued (or failed for good when no retries were left); see `task.expire`.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...TaskRef, attempt: Attempt, agent_id: Type.String(), status: Type.String({ description: 'the attempt\'s state when it expired: assigned or running' }), silent_ms: Type.Integer() }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 1, agent_id: 'agent-7', status: 'assigned', silent_ms: 125000 },
});

export const TaskOwnershipViolation = event({
  type: 'task.ownership_violation',
  description: 'A task changed files outside its claims. Strict tickets fail the attempt; lenient ones only warn.',
  consumers: OBSERVERS,
  payload: Type.Object({ ...TaskRef, attempt: Attempt, files: Type.Array(Type.String()), mode: Type.String() }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 1, files: ['src/y/other.ts'], mode: 'strict' },
});

export const TaskProgress = command({
  type: 'task.progress',
  description: 'An agent reports that a running attempt makes progress (an optional message and percentage): it is not stalled. On `omoi.in` a remote agent signs it (see Signing) and may report only its own attempts (`wrong_agent`). A node\'s local agent reports it by itself while the attempt\'s command writes output. Stale attempts are ignored.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({
    ...TaskRef, attempt: Attempt,
    message: Type.Optional(Type.String({ maxLength: 2000 })),
    percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  }, { additionalProperties: false }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 1, message: 'tests: 40 of 120 passed', percent: 33 },
});

export const TaskStall = command({
  type: 'task.stall',
  description: 'Internal (stall sweep of the node supervisor): a `running` attempt showed no output and no `task.progress` for `OMOI_TASK_STALL_MS` while its agent lives. The TicketActor raises `task.stalled` once per attempt and, with `action: restart` (`OMOI_TASK_STALL_ACTION`), fails the attempt retryably with reason `stalled` (counts against `max_retries`) and stops it. A stale attempt changes nothing.',
  handledBy: ActorType.TicketActor,
  ingress: false,
  route,
  payload: Type.Object({
    ...TaskRef, attempt: Attempt, agent_id: Type.Optional(Type.String()),
    silent_ms: Type.Integer({ minimum: 0 }),
    since: Type.String({ minLength: 1, maxLength: 40, description: 'the attempt\'s last sign of life the sweep saw: a later one makes the command stale' }),
    action: Type.Union([Type.Literal('alert'), Type.Literal('restart')]),
  }, { additionalProperties: false }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 1, agent_id: 'agent-7', silent_ms: 900500, since: '2026-12-02T12:00:00.000Z', action: 'alert' },
});

export const TaskStalled = event({
  type: 'task.stalled',
  description: 'A running attempt did nothing (no output, no progress report) for `OMOI_TASK_STALL_MS` although its agent is alive: `left` for a person (`OMOI_TASK_STALL_ACTION=alert`), or `restarted` (failed with reason `stalled` and retried, or failed for good without retries left). Once per attempt.',
  consumers: [...OBSERVERS, 'alerts (`task_stalled`)'],
  payload: Type.Object({
    ...TaskRef, attempt: Attempt, agent_id: Type.Optional(Type.String()),
    silent_ms: Type.Integer({ minimum: 0 }),
    action: Type.Union([Type.Literal('restarted'), Type.Literal('left')]),
  }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 1, agent_id: 'agent-7', silent_ms: 900500, action: 'left' },
});

export const TaskProgressed = event({
  type: 'task.progressed',
  description: 'A running attempt said how far it got: a `task.progress` with a `message` or `percent` (e.g. sent by the task itself through its task API, `omoi-task progress`). Reports without either (a local agent noticing output) raise none. A stale attempt raises none.',
  consumers: OBSERVERS,
  payload: Type.Object({
    ...TaskRef, attempt: Attempt,
    message: Type.Optional(Type.String({ maxLength: 2000 })),
    percent: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
  }),
  example: { ticket_id: 'T1', task_id: 'B', attempt: 1, message: 'tests: 40 of 120 passed', percent: 33 },
});

/** A remote agent's running attempt, naming itself: discovery commands are scoped to it. */
const AgentAttempt = { ...TaskRef, attempt: Attempt, agent_id: Type.String({ minLength: 1, maxLength: 200, description: 'the agent that runs the attempt and signs the message' }) };

export const TaskAgentAdd = command({
  type: 'task.agent_add',
  description: 'A remote agent, while it runs an attempt of `task_id`, adds a task to that task\'s ticket (as `task.add`; discovery outside any node). Signed by the agent (see Signing). Refused: the attempt is not that agent\'s (`wrong_agent`), or not the task\'s live one, assigned or running (`not_running`); a spec refused as for `task.add` (`cycle`, `unknown_dependency`, ...).',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({ ...AgentAttempt, task: TaskSpec }, { additionalProperties: false }),
  example: { ticket_id: 'T1', task_id: 'A', attempt: 1, agent_id: 'agent-7', task: { id: 'lint', depends_on: ['A'], owns: [], capabilities: [], phase: 'execute', priority: 0, kind: 'command', run: 'make lint', max_retries: 2, timeout_ms: 600000 } },
});

export const TaskAgentSplit = command({
  type: 'task.agent_split',
  description: 'A remote agent splits the task whose attempt it runs (as `task.split`: parallel tasks and a continuation that joins them). Signed by the agent (see Signing). Refused: `wrong_agent`, `not_running` (see `task.agent_add`), or as `task.split` is.',
  handledBy: ActorType.TicketActor,
  ingress: true,
  route,
  payload: Type.Object({ ...AgentAttempt, tasks: Type.Array(TaskSpec, { minItems: 1, maxItems: 1000 }), continuation: TaskSpec }, { additionalProperties: false }),
  example: {
    ticket_id: 'T1', task_id: 'A', attempt: 1, agent_id: 'agent-7',
    tasks: [
      { id: 'A1', depends_on: [], owns: ['src/a/**'], capabilities: [], phase: 'execute', priority: 0, kind: 'command', run: 'make a', max_retries: 2, timeout_ms: 600000 },
      { id: 'A2', depends_on: [], owns: ['src/b/**'], capabilities: [], phase: 'execute', priority: 0, kind: 'command', run: 'make b', max_retries: 2, timeout_ms: 600000 },
    ],
    continuation: { id: 'A3', depends_on: [], owns: [], capabilities: [], phase: 'execute', priority: 0, kind: 'command', run: 'make check', max_retries: 2, timeout_ms: 600000 },
  },
});
