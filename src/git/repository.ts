import NodeGit from 'nodegit';
import { TerminalError } from '../errors.ts';

/** Opens the repository (bare clone or worktree) at `dir`; `TerminalError` if there is none. */
export async function openRepository(dir: string): Promise<NodeGit.Repository> {
  try {
    return await NodeGit.Repository.open(dir);
  } catch (err) {
    throw new TerminalError('not_a_repository', `${dir} is not a git repository: ${(err as Error).message}`);
  }
}

/**
 * Resolves `ref` (branch, tag, full ref name, full or abbreviated sha, or any rev-parse
 * expression) to the sha of the commit it names. Throws `TerminalError('unknown_ref')` when
 * the repository has no such commit.
 */
export async function resolveCommit(repoDir: string, ref: string): Promise<string> {
  const repo = await openRepository(repoDir);
  try {
    return await commitShaIn(repo, ref);
  } finally {
    repo.cleanup();
  }
}

/** `resolveCommit` on an open repository. */
export async function commitShaIn(repo: NodeGit.Repository, ref: string): Promise<string> {
  if (!ref || ref.startsWith('-')) {
    throw new TerminalError('unknown_ref', `${JSON.stringify(ref)} is not a valid git ref`);
  }
  try {
    const object = await NodeGit.Revparse.single(repo, `${ref}^{commit}`);
    return object.id().tostrS();
  } catch {
    throw new TerminalError('unknown_ref', `git ref ${JSON.stringify(ref)} does not name a commit in ${repo.path()}`, { ref });
  }
}

/**
 * Creates branch `branch` at `commit`, or force-moves it there if it exists (also when it is
 * checked out in a worktree: the worktree's files are not touched). `commit` may be any ref.
 * Throws `TerminalError` for an invalid branch name or an unknown commit.
 */
export async function setBranch(repoDir: string, branch: string, commit: string): Promise<void> {
  const refName = `refs/heads/${branch}`;
  if (!branch || !NodeGit.Reference.isValidName(refName)) {
    throw new TerminalError('invalid_branch', `${JSON.stringify(branch)} is not a valid branch name`);
  }
  const repo = await openRepository(repoDir);
  try {
    const sha = await commitShaIn(repo, commit);
    // Reference.create rather than Branch.create: libgit2 refuses to force-move a branch that a
    // worktree has checked out, and moving a task branch under its (removed) sandbox is legal.
    await NodeGit.Reference.create(repo, refName, NodeGit.Oid.fromString(sha), 1, `omoi: set ${branch} to ${sha}`);
  } finally {
    repo.cleanup();
  }
}
