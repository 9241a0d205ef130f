import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import NodeGit from 'nodegit';
import { RetryableError, TerminalError } from '../errors.ts';
import { commitShaIn, openRepository } from './repository.ts';

// A task sandbox is a repository of its own, not a worktree of the clone: `<dir>/.git` is a
// directory with the sandbox's own HEAD, refs, config, hooks and index, and it borrows the
// clone's objects read-only through `objects/info/alternates`. So what a task does to refs,
// config or hooks stays in its sandbox: a retried attempt never trips on a branch an earlier
// attempt made, and tickets that share one clone never see each other's branches or settings.
// The objects a task makes land in the sandbox; `importSandboxObjects` copies them into the
// clone, verified, before the task branch is moved there (src/git/sandbox-objects.ts).
// Spawns no process: a sandbox is made for every task attempt.

/** A sandbox repository at `dir`, borrowing the objects of the clone whose git dir is `cloneGitDir`. */
export interface SandboxRepo { dir: string; cloneGitDir: string }

/** What a fresh sandbox's `.git/config` holds. No automatic gc: it would pack the task's objects. */
const CONFIG = '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\tlogallrefupdates = true\n[gc]\n\tauto = 0\n';

/**
 * The clone's git dir and the sha of commit `base` in it; `TerminalError('sandbox_failed')` for
 * an invalid branch name or a base that names no commit.
 */
export async function resolveSandboxBase(cloneDir: string, base: string, branch: string): Promise<{ cloneGitDir: string; sha: string }> {
  if (!NodeGit.Reference.isValidName(`refs/heads/${branch}`)) {
    throw new TerminalError('sandbox_failed', `cannot make a sandbox on ${JSON.stringify(branch)}: not a valid branch name`, { branch });
  }
  const repo = await openRepository(cloneDir);
  try {
    const sha = await commitShaIn(repo, base).catch(() => {
      throw new TerminalError('sandbox_failed', `cannot make a sandbox at ${JSON.stringify(base)}: it does not name a commit in ${cloneDir}`, { base });
    });
    return { cloneGitDir: path.resolve(repo.commondir()), sha };
  } finally {
    repo.cleanup();
  }
}

/**
 * Makes the sandbox repository at `dir` on `branch` at `base` (a commit or ref of the clone at
 * `cloneDir`), files checked out. Whatever was at `dir` (a crashed earlier run) is removed
 * first, so this is safe to repeat. Throws `TerminalError('sandbox_failed')` for an unknown base
 * or an invalid branch name, `RetryableError('sandbox_failed')` otherwise; a failed create
 * leaves nothing at `dir`.
 */
export async function createSandboxRepo(cloneDir: string, dir: string, base: string, branch: string): Promise<SandboxRepo & { sha: string }> {
  const target = path.resolve(dir);
  const { cloneGitDir, sha } = await resolveSandboxBase(cloneDir, base, branch);
  const sandbox = { dir: target, cloneGitDir };
  try {
    await rm(target, { recursive: true, force: true });
    await writeGitDir(sandbox, branch, sha);
    const repo = await openRepository(target);
    try {
      await NodeGit.Checkout.head(repo, { checkoutStrategy: NodeGit.Checkout.STRATEGY.FORCE });
    } finally {
      repo.cleanup();
    }
  } catch (err) {
    await rm(target, { recursive: true, force: true });
    throw new RetryableError('sandbox_failed', `cannot make sandbox ${target} at ${base}: ${(err as Error).message}`, { dir: target, base });
  }
  return { ...sandbox, sha };
}

/**
 * Replaces whatever `<dir>/.git` is (a task may have rewritten, replaced or removed it) with a
 * fresh git dir on `branch` at `sha`: HEAD, config, the branch, the alternates file, and no
 * index (the caller writes one). The work tree is not touched.
 */
export async function writeGitDir(s: SandboxRepo, branch: string, sha: string): Promise<void> {
  const gitDir = path.join(s.dir, '.git');
  await rm(gitDir, { recursive: true, force: true }); // a symlink is removed, not followed
  const ref = path.join(gitDir, 'refs', 'heads', ...branch.split('/'));
  await Promise.all([
    mkdir(path.join(gitDir, 'objects', 'info'), { recursive: true })
      .then(() => writeFile(path.join(gitDir, 'objects', 'info', 'alternates'), `${path.join(s.cloneGitDir, 'objects')}\n`)),
    mkdir(path.join(gitDir, 'objects', 'pack'), { recursive: true }),
    mkdir(path.join(gitDir, 'refs', 'tags'), { recursive: true }),
    mkdir(path.dirname(ref), { recursive: true }).then(() => writeFile(ref, `${sha}\n`)),
  ]);
  await Promise.all([
    writeFile(path.join(gitDir, 'config'), CONFIG),
    writeFile(path.join(gitDir, 'HEAD'), `ref: refs/heads/${branch}\n`), // last: git needs HEAD to see a repository
  ]);
}
