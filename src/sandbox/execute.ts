import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TerminalError } from '../errors.ts';
import { commitAll } from '../git/commit.ts';
import { changedFilesBetween } from '../git/diff.ts';
import type { Identity } from '../git/identity.ts';
import { resolveCommit } from '../git/repository.ts';
import type { Sandbox } from './manager.ts';
import { isolationPrefix, type Isolation } from './isolation.ts';
import { ownershipViolations } from './ownership.ts';
import { runProcess } from './process.ts';
import { runTaskCheck, type CheckOutcome } from './task-check.ts';

/** What an executor is asked to run. `run` is the shell command (`command`) or, for an
 * `agent` without `prompt`, the prompt itself. */
export interface ExecutableTask {
  id: string;
  ticketId: string;
  kind: 'command' | 'agent';
  run: string;
  prompt?: string;
  owns: string[];
  /** Run after the command succeeded and its changes were committed (see `runTaskCheck`). */
  check?: string;
}

export interface ExecuteOptions {
  sandbox: Sandbox;
  task: ExecutableTask;
  /** The synthesized context (e.g. the join's combined results), written to the task file. */
  context: unknown;
  /** How agents are started, e.g. `my-agent --prompt-file {prompt_file}`. Placeholders:
   * `{prompt_file}`, `{task_file}`, `{result_file}`, `{task_id}`, `{ticket_id}` (shell-quoted). */
  agentTemplate?: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Where the task file, prompt file, result file and full log go (never inside the sandbox). */
  logDir: string;
  /** Author and committer of the task's commit (fixed time: a re-run gives the same sha). */
  who: Identity;
  /** Variables given to the command besides the OMOI_* ones (nothing else is inherited). */
  env?: Record<string, string>;
  /** The attempt's number (`OMOI_ATTEMPT`). */
  attempt?: number;
  tailBytes?: number;
  /** How the command is isolated (see `isolation.ts`); absent: it runs as it is (tests of this function). */
  isolation?: Isolation;
  /** false: the command gets no network (the ticket's `network: false`; needs bubblewrap). */
  network?: boolean;
  /** More directories the command may write besides the sandbox and the log dir (its task API's socket, src/task-api). */
  writable?: string[];
}

export interface ExecutionResult {
  ok: boolean;
  exitCode: number | null;
  timedOut: boolean;
  /** The task branch's head: the new commit on success, else the sandbox's base. */
  commit: string;
  changedFiles: string[];
  /** Changed files outside the task's `owns` globs; the caller decides strict or lenient. */
  violations: string[];
  /** The parsed JSON of the result file, or `null` if the task wrote none. */
  result: unknown;
  tail: string;
  logFile: string;
  /** Where the task may have written its JSON result (read for its usage even when it failed). */
  resultFile: string;
  error?: string;
  /** How the task's check ran; absent when it has none or its command failed first. A failed check fails the result. */
  check?: CheckOutcome;
}

/**
 * Runs a task in its sandbox and, if it succeeds (exit 0, no timeout or abort, a readable
 * result file if one was written), commits every change in the sandbox to the task branch
 * with the message `omoi: task <task> of ticket <ticket>` and identity `who`.
 * The command sees only PATH, HOME, LANG, TERM, `env`, and `OMOI_TASK_FILE` (JSON with the
 * task and its context), `OMOI_RESULT_FILE` (where it may write a JSON result),
 * `OMOI_TASK_ID`, `OMOI_TICKET_ID`, `OMOI_ATTEMPT` (and `OMOI_PROMPT_FILE` for agents).
 * A task with a `check` has it run after the commit (so it sees the task's changes and nothing
 * it writes is committed), same sandbox, isolation and environment, in what is left of
 * `timeoutMs`: a failed check makes the result `ok: false` with `check` saying how it ended.
 * Task failures are reported in the result (`ok: false`, `error`), never thrown; throws
 * `TerminalError('agent_not_configured')` for an agent task without `agentTemplate`.
 */
export async function executeTask(opts: ExecuteOptions): Promise<ExecutionResult> {
  const { sandbox, task } = opts;
  if (task.kind === 'agent' && !opts.agentTemplate) {
    throw new TerminalError('agent_not_configured', `task ${task.id} is an agent task but no agent command template is configured`);
  }

  await mkdir(opts.logDir, { recursive: true });
  const stem = path.join(opts.logDir, encodeURIComponent(task.id));
  const files = {
    task: `${stem}.task.json`,
    result: `${stem}.result.json`,
    prompt: `${stem}.prompt.md`,
    log: taskLogFile(opts.logDir, task.id),
  };
  await rm(files.result, { force: true }); // a previous attempt's result must not be mistaken for ours
  await writeFile(files.task, JSON.stringify({ task, context: opts.context, sandbox: { branch: sandbox.branch, base: sandbox.base } }, null, 2));

  const env: Record<string, string> = {
    ...opts.env,
    OMOI_TASK_FILE: files.task,
    OMOI_RESULT_FILE: files.result,
    OMOI_TASK_ID: task.id,
    OMOI_TICKET_ID: task.ticketId,
    // An agent's key for effects outside the repository: one attempt may be retried, never run twice.
    ...(opts.attempt !== undefined ? { OMOI_ATTEMPT: String(opts.attempt) } : {}),
  };
  let shellCommand = task.run;
  if (task.kind === 'agent') {
    await writeFile(files.prompt, task.prompt ?? task.run);
    env.OMOI_PROMPT_FILE = files.prompt;
    shellCommand = fillTemplate(opts.agentTemplate!, {
      prompt_file: files.prompt, task_file: files.task, result_file: files.result, task_id: task.id, ticket_id: task.ticketId,
    });
  }

  // Writable: the sandbox and the attempt's log dir (task, prompt and result files); readable: the clone's objects it borrows.
  const wrap = opts.isolation
    ? isolationPrefix(opts.isolation, { writable: [sandbox.dir, opts.logDir, ...(opts.writable ?? [])], readOnly: [path.join(sandbox.cloneGitDir, 'objects')], cwd: sandbox.dir, network: opts.network })
    : [];
  const run = await runProcess({
    command: shellCommand, cwd: sandbox.dir, env, timeoutMs: opts.timeoutMs, signal: opts.signal, logFile: files.log, tailBytes: opts.tailBytes, wrap,
  });
  const failed = (error: string): Promise<ExecutionResult> => resolveCommit(sandbox.dir, 'HEAD').then((head) => ({
    ok: false, exitCode: run.exitCode, timedOut: run.timedOut, commit: head, changedFiles: [], violations: [], result: null,
    tail: run.tail, logFile: files.log, resultFile: files.result, error,
  }));

  if (run.aborted) return failed('aborted');
  if (run.timedOut) return failed(`timed out after ${opts.timeoutMs} ms`);
  if (run.exitCode !== 0) return failed(run.exitCode === null ? `killed by ${run.signal}` : `exited with code ${run.exitCode}`);

  let result: unknown = null;
  try {
    result = JSON.parse(await readFile(files.result, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return failed(`result file ${files.result} is not valid JSON: ${(err as Error).message}`);
  }

  const made = await commitAll(sandbox.dir, `omoi: task ${task.id} of ticket ${task.ticketId}`, opts.who);
  const commit = made.commit;
  // A task that committed itself (many coding agents do) moved HEAD: what it changed, and what
  // the ownership check judges, is everything since the base, not only what was left uncommitted.
  const changedFiles = made.parent === sandbox.base ? made.changedFiles : await changedFilesBetween(sandbox.dir, sandbox.base, commit);
  const done: ExecutionResult = {
    ok: true, exitCode: run.exitCode, timedOut: false, commit, changedFiles,
    violations: ownershipViolations(changedFiles, task.owns), result, tail: run.tail, logFile: files.log, resultFile: files.result,
  };
  if (!task.check) return done;
  const check = await runTaskCheck({
    command: task.check, cwd: sandbox.dir, env, wrap, timeoutMs: Math.max(1, opts.timeoutMs - run.durationMs), signal: opts.signal,
    logFile: files.log, tailBytes: opts.tailBytes,
  });
  if (check.passed) return { ...done, check };
  const why = check.aborted ? 'aborted' : check.timedOut ? `timed out (the task's ${opts.timeoutMs} ms were used up)` : check.exitCode === null ? 'was killed' : `exited with code ${check.exitCode}`;
  return { ...done, ok: false, error: `check_failed: the check ${why}`, check };
}

/** Where the command's output (stdout and stderr) goes: its growth is the attempt's progress. */
export function taskLogFile(logDir: string, taskId: string): string {
  return `${path.join(logDir, encodeURIComponent(taskId))}.log`;
}

/** Replaces `{name}` placeholders with single-quoted shell words; unknown names stay as they are. */
export function fillTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{([a-z_]+)\}/g, (whole, name: string) =>
    Object.hasOwn(values, name) ? shellQuote(values[name]!) : whole);
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
