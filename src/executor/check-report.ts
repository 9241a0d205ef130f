import { CHECK_LIMITS } from '../protocol/messages/common.ts';
import { maskSecrets } from '../redact.ts';
import type { CheckOutcome } from '../sandbox/index.ts';

/** A check's run as `task.complete` / `task.fail` carry it: the end of its output, the node's secrets masked. */
export function checkReport(check: CheckOutcome, secrets: readonly string[]): { exit_code: number | null; timed_out: boolean; output: string } {
  return { exit_code: check.exitCode, timed_out: check.timedOut, output: maskSecrets(check.tail, secrets).slice(-CHECK_LIMITS.outputChars) };
}

/** The check ran and failed on its own (non-zero exit, timeout), not because the attempt was stopped. */
export function checkFailed(check: CheckOutcome | undefined): boolean {
  return !!check && !check.passed && !check.aborted;
}
