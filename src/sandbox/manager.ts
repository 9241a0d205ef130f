import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { TerminalError } from '../errors.ts';
import { createSandboxRepo } from '../git/sandbox-repo.ts';
import { owningRepository, pruneWorktrees, removeWorktreeDir } from '../git/worktree.ts';

/**
 * A task's sandbox: a repository of its own at `dir` (see src/git/sandbox-repo.ts), on
 * `branch`, created at commit `base`, borrowing the objects of the clone `repoDir` (whose git
 * dir is `cloneGitDir`). The branch lives in the sandbox; the executor moves the clone's
 * branch once the task's objects are imported.
 */
export interface Sandbox { id: string; dir: string; branch: string; base: string; repoDir: string; cloneGitDir: string }

/**
 * Owns the sandbox directories under `root`: one sandbox repository per sandbox id, at
 * `root/<encoded id>`. Sandboxes are removed by `remove` on every path of a run; `sweep` at
 * start-up removes what a crash left behind (everything under `root`, the `SandboxPool`'s
 * `pool+<n>` sandboxes included).
 */
export class SandboxManager {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** The directory of sandbox `id` (ids are URI-encoded, so any id is one safe path segment). */
  dirOf(id: string): string {
    if (!id) throw new TerminalError('invalid_sandbox', 'a sandbox needs an id');
    const segment = encodeURIComponent(id).replace(/^\./, '%2E'); // never `.`/`..` or hidden
    return path.join(this.root, segment);
  }

  /**
   * Creates sandbox `id`: a repository borrowing the objects of `repoDir`, on `branch` at
   * `base` (a commit or ref of `repoDir`), checked out. A leftover sandbox of the same id is
   * replaced, so a retried task starts from `base` again. Throws
   * `TerminalError('sandbox_failed')` for an unknown base or an invalid branch name.
   */
  async create(repoDir: string, id: string, branch: string, base: string): Promise<Sandbox> {
    const dir = this.dirOf(id);
    await mkdir(this.root, { recursive: true });
    const { cloneGitDir } = await createSandboxRepo(repoDir, dir, base, branch);
    return { id, dir, branch, base, repoDir, cloneGitDir };
  }

  /**
   * Removes the sandbox's files; the clone's branch (and the objects imported into the clone)
   * stay. Idempotent. Like `create`, spawns no process (once per task attempt).
   */
  async remove(s: Sandbox): Promise<void> {
    await rm(s.dir, { recursive: true, force: true });
  }

  /**
   * Removes every sandbox under `root` whose id is not in `keep` (what a crash left behind).
   * Worktrees an earlier version made there are removed with their record in their repository,
   * which is then pruned once (`git worktree prune`). Returns the removed ids, sorted.
   */
  async sweep(keep: Set<string>): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const removed: string[] = [];
    const repos = new Set<string>();
    for (const name of names.sort()) {
      const id = decodeSegment(name);
      if (id !== null && keep.has(id)) continue;
      const repo = await owningRepository(path.join(this.root, name));
      if (repo) repos.add(repo);
      await removeWorktreeDir(path.join(this.root, name));
      await rm(path.join(this.root, name), { recursive: true, force: true });
      removed.push(id ?? name);
    }
    for (const repo of repos) await pruneWorktrees(repo);
    return removed.sort();
  }
}

function decodeSegment(name: string): string | null {
  try {
    return decodeURIComponent(name);
  } catch {
    return null; // not a name we made
  }
}
