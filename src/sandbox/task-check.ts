import { appendFile } from 'node:fs/promises';
import { runProcess } from './process.ts';

/** How a task's check ran (see `runTaskCheck`). */
export interface CheckOutcome {
  command: string;
  passed: boolean;
  /** null: it was killed (timed out, aborted). */
  exitCode: number | null;
  timedOut: boolean;
  aborted: boolean;
  /** The end of its output (not masked: the caller masks what it reports). */
  tail: string;
}

export interface TaskCheckOptions {
  command: string;
  /** The sandbox, as the task left it. */
  cwd: string;
  /** The task command's environment, as it was. */
  env: Record<string, string>;
  /** The task command's isolation prefix (bubblewrap), as it was: same binds, same network rule. */
  wrap: string[];
  /** What is left of the task's `timeout_ms` after its command. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** The attempt's log: the check's output follows the task's, after a marker line. */
  logFile: string;
  tailBytes?: number;
}

/**
 * Runs a task's `check` (tests, linters) after its command succeeded, through the same
 * `runProcess` the merge's check command uses: in the sandbox, under the same isolation
 * prefix and with the same environment as the task command. Passed: exit code 0 in time.
 * Never throws for the check's own failure.
 */
export async function runTaskCheck(opts: TaskCheckOptions): Promise<CheckOutcome> {
  // People reading the log see where the task's output ends and the check's begins.
  await appendFile(opts.logFile, `\n--- omoi: check: ${opts.command}\n`);
  const run = await runProcess({
    command: opts.command, cwd: opts.cwd, env: opts.env, timeoutMs: opts.timeoutMs, signal: opts.signal,
    logFile: opts.logFile, appendLog: true, tailBytes: opts.tailBytes, wrap: opts.wrap,
  });
  return {
    command: opts.command, passed: run.exitCode === 0 && !run.timedOut && !run.aborted,
    exitCode: run.exitCode, timedOut: run.timedOut, aborted: run.aborted, tail: run.tail,
  };
}
