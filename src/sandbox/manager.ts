import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { TerminalError } from '../errors.ts';
import { addWorktree, owningRepository, pruneWorktrees, removeWorktreeDir } from '../git/worktree.ts';

/** A task's sandbox: a worktree of `repoDir` at `dir`, on `branch`, created at commit `base`. */
export interface Sandbox { id: string; dir: string; branch: string; base: string; repoDir: string }

/**
 * Owns the sandbox directories under `root`: one worktree per sandbox id, at
 * `root/<encoded id>`. Sandboxes are removed by `remove` on every path of a run; `sweep` at
 * start-up removes what a crash left behind (everything under `root`, the `SandboxPool`'s
 * `pool+<n>` worktrees included).
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
   * Creates sandbox `id`: a worktree of `repoDir` with `branch` created (or reset) at `base`
   * (a commit or ref) and checked out. A leftover sandbox of the same id is replaced, so a
   * retried task starts from `base` again. Throws `TerminalError` for an unknown base or a
   * branch already checked out in another live sandbox.
   */
  async create(repoDir: string, id: string, branch: string, base: string): Promise<Sandbox> {
    const dir = this.dirOf(id);
    await mkdir(this.root, { recursive: true });
    await addWorktree(repoDir, dir, base, { branch });
    return { id, dir, branch, base, repoDir };
  }

  /**
   * Removes the sandbox's files and worktree record; its branch (and commits) stay. Idempotent.
   * Like `create`, spawns no process (sandboxes are made and removed once per task attempt).
   */
  async remove(s: Sandbox): Promise<void> {
    await removeWorktreeDir(s.dir);
  }

  /**
   * Removes every sandbox under `root` whose id is not in `keep` (what a crash left behind),
   * with each one's record in its repository; then prunes those repositories' worktree records
   * once (`git worktree prune`: records a crash left half-made). Returns the removed ids, sorted.
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
