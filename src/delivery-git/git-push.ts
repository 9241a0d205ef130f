import path from 'node:path';
import { RetryableError, TerminalError } from '../errors.ts';
import { runGitCli } from '../git/git-cli.ts';
import { redactIn, redactUrl } from '../redact.ts';

/**
 * The push failed (remote unreachable, not a repository yet, refused, timed out). Always worth
 * retrying: a remote is fixed or created by a person while the push waits (bounded by the
 * delivery's attempts). Code `push_failed`; the message never holds the remote's credentials.
 */
export class PushFailedError extends RetryableError {
  override name = 'PushFailedError';
}

/** True for a URL (`scheme://…`) or scp-like (`user@host:path`) remote; false for a local path. */
function isUrl(remote: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(remote) || /^[^/\\]+@[^/\\]+:/.test(remote);
}

/**
 * `git push --force <remote> <head>:refs/heads/<branch>` from `repoDir` (the ticket's clone,
 * which holds `head`). Forced: the branch is Omoi's (a ticket retried after a failure completes
 * on another head, and its branch must follow). Idempotent: pushing the head the branch already
 * has is a success that changes nothing. A local path is resolved against the node's working
 * directory, as the ticket's repository is. A push still running after `timeoutMs` is stopped.
 */
export async function pushHead(repoDir: string, remote: string, head: string, branch: string, timeoutMs: number): Promise<void> {
  // The schema refuses these; checked again because git would read them as options.
  if (remote.startsWith('-') || branch.startsWith('-')) throw new TerminalError('bad_remote', `refusing to push to ${JSON.stringify(redactUrl(remote))} ${JSON.stringify(branch)}: it would be read as an option`);
  const target = isUrl(remote) ? remote : path.resolve(remote);
  const result = await runGitCli(['push', '--force', '--quiet', '--no-verify', target, `${head}:refs/heads/${branch}`], repoDir, timeoutMs);
  if (result.code === 0) return;
  const detail = redactIn(result.stderr.trim() || `git push exited with ${result.code}`, remote);
  throw new PushFailedError('push_failed', `cannot push to ${redactUrl(remote)}: ${detail}`, { remote: redactUrl(remote), branch });
}
