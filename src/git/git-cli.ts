import { execFile } from 'node:child_process';

/** Longest a git command may run (ms): a clone of a large repository takes minutes, not hours. */
const GIT_TIMEOUT_MS = 30 * 60_000;

/** What a `git` CLI invocation printed, and its exit code. */
export interface GitCliResult { code: number; stdout: string; stderr: string }

/**
 * How git dies when a worktree record of the repository appears or vanishes while it reads them
 * all (`<repo>/worktrees/<name>/`, which merge sandboxes add and remove all the time, outside
 * any lock git knows of): "failed to read …/worktrees/<name>/commondir", "Invalid path
 * '…/worktrees/<name>'". Nothing was done; the same command again finds the records settled.
 */
const WORKTREE_RACE = /fatal: (failed to read|Invalid path|unable to read)[^\n]*worktrees\//;
/** Runs of a command that died of `WORKTREE_RACE` before its failure is returned as it is. */
const WORKTREE_RACE_RUNS = 8;

/**
 * Runs the `git` CLI (used only where nodegit 0.27 is awkward: clone/fetch over any transport
 * with the user's git configuration, and worktree add/remove/prune — libgit2's worktree API
 * cannot create a worktree on an existing branch at a chosen commit, nor remove one).
 * Never throws for a non-zero exit: callers decide which error that is. Git's own
 * repository-selecting variables are dropped so an outer git (a hook, a CI step) cannot
 * redirect us, and prompts are disabled so a missing credential fails instead of hanging.
 * A git that runs longer than `timeoutMs` (a clone or fetch from a host that stopped
 * answering) is killed and reported as a failure, so nothing waits on it forever. A command
 * that died only because a worktree record changed under it is run again (`WORKTREE_RACE`).
 */
export async function runGitCli(args: string[], cwd?: string, timeoutMs = GIT_TIMEOUT_MS): Promise<GitCliResult> {
  for (let run = 1; ; run++) {
    const r = await runGitOnce(args, cwd, timeoutMs);
    if (r.code === 0 || run >= WORKTREE_RACE_RUNS || !WORKTREE_RACE.test(r.stderr)) return r;
    await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** run)); // 10 ms, doubling
  }
}

function runGitOnce(args: string[], cwd: string | undefined, timeoutMs: number): Promise<GitCliResult> {
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
