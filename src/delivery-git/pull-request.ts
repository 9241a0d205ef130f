import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors.ts';
import { redactUrl } from '../redact.ts';
import { fillTemplate } from '../sandbox/execute.ts';
import { runProcess } from '../sandbox/process.ts';
import type { PushOrder } from './push-order.ts';

/** Characters of a failed command's output kept as its error. */
const ERROR_CHARS = 2000;

/** What the pull request command did: the URL it printed, or why it failed. */
export type PullRequestOutcome = { url: string | null; error?: undefined } | { url?: undefined; error: string };

/**
 * Runs a ticket's `pull_request_command` after its push: `{branch} {base_branch} {title}
 * {ticket_id} {remote}` become single-quoted shell words (a title cannot inject a command),
 * then `sh -c` in `cwd` (the ticket's clone) with the allowlisted environment of task commands.
 * Exit 0: the first http(s) URL of its output is the pull request's (null if it printed none);
 * otherwise (or stopped after `timeoutMs`) the error names the exit and the output's end.
 * Never throws for the command's own failure.
 */
export async function runPullRequestCommand(order: PushOrder, cwd: string, logDir: string, timeoutMs: number, signal?: AbortSignal): Promise<PullRequestOutcome> {
  const command = fillTemplate(order.pull_request_command!, {
    branch: order.branch, base_branch: order.base_branch, title: order.title, ticket_id: order.ticket_id, remote: redactUrl(order.remote),
  });
  await mkdir(logDir, { recursive: true });
  const logFile = path.join(logDir, `${encodeURIComponent(order.ticket_id)}.pull-request.log`);
  try {
    const run = await runProcess({ command, cwd, timeoutMs, logFile, signal });
    const output = await readFile(logFile, 'utf8').catch(() => run.tail);
    if (run.exitCode === 0) return { url: firstUrl(output) };
    const why = run.timedOut ? `timed out after ${timeoutMs} ms` : run.exitCode === null ? `killed (${run.signal ?? 'aborted'})` : `exited with ${run.exitCode}`;
    return { error: `pull_request_failed: ${why}: ${output.trim().slice(-ERROR_CHARS)}` };
  } catch (err) {
    return { error: `pull_request_failed: ${errorMessage(err)}` };
  }
}

/** The first http(s) URL in `text`, without trailing punctuation. */
export function firstUrl(text: string): string | null {
  const match = /https?:\/\/[^\s<>"'`]+/.exec(text);
  return match ? match[0].replace(/[).,;:!?\]]+$/, '') : null;
}
