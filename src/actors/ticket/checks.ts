import { CHECK_LIMITS } from '../../protocol/messages/common.ts';
import { emit } from '../../messaging/typed.ts';
import type { Task } from '../../persistence/index.ts';
import type { PayloadOf } from '../../protocol/index.ts';
import type { Work } from './work.ts';

/**
 * Task checks (a task's `check`: tests, linters its agent runs after the task succeeded, in the
 * same sandbox). The ticket's side: a completion must say the check passed; a failure with
 * reason `check_failed` is announced, and the next attempt's context carries what failed.
 */

/** What the next attempt is told of a failed check (its context's `previous_attempt`). */
export interface PreviousAttempt {
  attempt: number;
  reason: 'check_failed';
  check: { command: string; exit_code: number | null; timed_out: boolean; output: string };
}

/**
 * Why a completion of `t` is refused for its check (the attempt then fails retryably), or
 * undefined: a task with a check completes only with a report that it passed.
 */
export function uncheckedCompletion(t: Task, p: PayloadOf<'task.complete'>): string | undefined {
  if (!t.spec.check) return undefined;
  if (!p.check) return `check_not_run: task ${t.id} has a check and the completion of attempt ${p.attempt} does not say it passed`;
  if (p.check.exit_code !== 0 || p.check.timed_out) return `check_not_run: the completion of attempt ${p.attempt} reports a check that did not pass (exit code ${p.check.exit_code})`;
  return undefined;
}

export function checkPassed(w: Work, t: Task): void {
  if (t.spec.check) emit(w.ctx.scope, 'task.check_passed', { ticket_id: t.ticket_id, task_id: t.id, attempt: t.attempt, command: t.spec.check });
}

/**
 * A failure of `t`'s live attempt reported with reason `check_failed` (only for a task that has
 * a check): announced (`task.check_failed`, `retry` as decided), and returned as the next
 * attempt's `previous_attempt`. Undefined for every other failure.
 */
export function checkFailure(w: Work, t: Task, p: PayloadOf<'task.fail'>, retry: boolean): PreviousAttempt | undefined {
  if (p.reason !== 'check_failed' || !t.spec.check) return undefined;
  const check = {
    command: t.spec.check, exit_code: p.check?.exit_code ?? null, timed_out: p.check?.timed_out ?? false,
    output: (p.check?.output ?? '').slice(-CHECK_LIMITS.outputChars),
  };
  emit(w.ctx.scope, 'task.check_failed', { ticket_id: t.ticket_id, task_id: t.id, attempt: t.attempt, ...check, retry });
  return { attempt: t.attempt, reason: 'check_failed', check };
}

/**
 * The context of a retried attempt: `previous_attempt` set to what its check's failure said, or
 * dropped after any other failure (what an earlier check said is no longer the latest news).
 */
export function retryContext(context: unknown, previous: PreviousAttempt | undefined): unknown {
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    return previous && (context === null || context === undefined) ? { previous_attempt: previous } : context;
  }
  const { previous_attempt: stale, ...rest } = context as Record<string, unknown>;
  if (previous) return { ...rest, previous_attempt: previous };
  return stale === undefined ? context : rest;
}
