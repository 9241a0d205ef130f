import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { RetryableError, TerminalError } from '../errors.ts';
import { runGitCli } from './git-cli.ts';
import { repoLock } from './keyed-lock.ts';

// Worktrees are made and removed with the git CLI: nodegit 0.27's `Worktree.add` always
// creates a new branch named after the worktree at HEAD, cannot start at a chosen commit or
// detached, and libgit2 has no "remove"; `git worktree` does exactly what we need.

/**
 * Creates a worktree of `repoDir` at `dir`. With `branch`, the branch is created or reset to
 * `base` and checked out; without, HEAD is detached at `base`. A leftover at `dir` (a crashed
 * earlier run) is removed first, and stale worktree records are pruned, so this is safe to
 * repeat. `checkout: false` skips writing files (the caller checks out later, if at all).
 * Throws `TerminalError` for an unknown base or a branch checked out elsewhere.
 */
export async function addWorktree(repoDir: string, dir: string, base: string, opts: { branch?: string; checkout?: boolean } = {}): Promise<void> {
  const target = path.resolve(dir);
  await removeWorktreeDir(target);
  await repoLock.run(path.resolve(repoDir), async () => {
    await runGitCli(['worktree', 'prune'], repoDir);
    const args = ['worktree', 'add', '--quiet'];
    if (opts.checkout === false) args.push('--no-checkout');
    args.push(...(opts.branch ? ['-B', opts.branch] : ['--detach']), target, `${base}^{commit}`);
    const result = await runGitCli(args, repoDir);
    if (result.code !== 0) {
      await rm(target, { recursive: true, force: true });
      const detail = result.stderr.trim();
      if (/invalid reference|not a valid|unknown revision|already checked out|already used by worktree|not a valid branch name/i.test(detail)) {
        throw new TerminalError('worktree_failed', `cannot create worktree ${target} at ${base}: ${detail}`, { dir: target, base, branch: opts.branch });
      }
      throw new RetryableError('worktree_failed', `cannot create worktree ${target} at ${base}: ${detail}`, { dir: target, base });
    }
  });
}

/**
 * Removes the worktree at `dir`: its files and its record in the owning repository (found via
 * the worktree's `.git` file, so the repository need not be known). Branches are kept. Never
 * fails because the worktree is already gone; idempotent.
 */
export async function removeWorktreeDir(dir: string): Promise<void> {
  const target = path.resolve(dir);
  const repoDir = await owningRepository(target);
  await rm(target, { recursive: true, force: true });
  if (repoDir) {
    await repoLock.run(repoDir, () => runGitCli(['worktree', 'prune'], repoDir));
  }
}

/**
 * The repository that owns the worktree at `dir`, read from its `.git` file
 * (`gitdir: <repo git dir>/worktrees/<name>`), or `null` if `dir` is no worktree (or the
 * repository is gone).
 */
export async function owningRepository(dir: string): Promise<string | null> {
  let pointer: string;
  try {
    pointer = await readFile(path.join(dir, '.git'), 'utf8');
  } catch {
    return null;
  }
  const match = /^gitdir:\s*(.+)$/m.exec(pointer);
  if (!match) return null;
  const worktreeGitDir = path.resolve(dir, match[1]!.trim());
  const repoGitDir = path.dirname(path.dirname(worktreeGitDir)); // strip `worktrees/<name>`
  try {
    await stat(repoGitDir);
  } catch {
    return null;
  }
  return repoGitDir;
}
