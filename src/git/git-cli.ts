import { execFile } from 'node:child_process';

/** Longest a git command may run (ms): a clone of a large repository takes minutes, not hours. */
const GIT_TIMEOUT_MS = 30 * 60_000;

/** What a `git` CLI invocation printed, and its exit code. */
export interface GitCliResult { code: number; stdout: string; stderr: string }

/**
 * Runs the `git` CLI (used only where nodegit 0.27 is awkward: clone/fetch over any transport
 * with the user's git configuration, and worktree add/remove/prune — libgit2's worktree API
 * cannot create a worktree on an existing branch at a chosen commit, nor remove one).
 * Never throws for a non-zero exit: callers decide which error that is. Git's own
 * repository-selecting variables are dropped so an outer git (a hook, a CI step) cannot
 * redirect us, and prompts are disabled so a missing credential fails instead of hanging.
 * A git that runs longer than `timeoutMs` (a clone or fetch from a host that stopped
 * answering) is killed and reported as a failure, so nothing waits on it forever.
 */
export function runGitCli(args: string[], cwd?: string, timeoutMs = GIT_TIMEOUT_MS): Promise<GitCliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
  for (const name of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_COMMON_DIR', 'GIT_OBJECT_DIRECTORY']) {
    delete env[name];
  }
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, env, maxBuffer: 16 * 1024 * 1024, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') {
        reject(new Error(`cannot run git: ${err.message}`)); // e.g. ENOENT: git is not installed
        return;
      }
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      const timedOut = err?.killed && err.signal === 'SIGTERM' ? `git ${args[0]} timed out after ${timeoutMs} ms and was stopped\n` : '';
      resolve({ code, stdout: String(stdout), stderr: timedOut + String(stderr) });
    });
  });
}
