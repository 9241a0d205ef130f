import { copyFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import NodeGit from 'nodegit';
import { RetryableError } from '../errors.ts';
import { openRepository } from './repository.ts';
import { switchWorktree, type WorktreeRecord } from './worktree.ts';

// Resetting a used worktree to exactly what `addWorktree` would make, for the sandbox pool.
//
// Invariants (each step below says which one it keeps):
//  1. Nothing in the worktree's record (`<common>/worktrees/<name>/`) survives but what
//     `addWorktree` writes: `commondir`, `gitdir`, `HEAD` (rewritten), `index` (rewritten from
//     the base tree). A task's `config.worktree`, `logs/`, `MERGE_HEAD`, `ORIG_HEAD`,
//     `rebase-*`, `sequencer/`, per-worktree refs (`refs/bisect`, `refs/worktree`)… are deleted
//     before libgit2 opens the worktree, so none of them can steer the reset itself.
//  2. The worktree holds the base tree's paths and nothing else: every other path (untracked,
//     ignored, empty directories, nested repositories, a replaced `.git`) is removed without
//     following symlinks; tracked files are rewritten where their content or type differs.
//  3. Verified, not assumed: HEAD is the branch at the base, the workdir is the worktree's own
//     directory, the index's tree is the base commit's tree, and a status with untracked and
//     ignored files is empty. Otherwise `RetryableError('worktree_reset_failed')`: the caller
//     throws the worktree away.
// Shared with every other worktree of the repository, fresh or reused, and so not reset here:
// the repository's refs (branches, tags, `refs/stash`), objects, `config` and `hooks/` in the
// common dir. A task that can write the common dir can change them for later tasks; closing
// that belongs to the sandbox's filesystem view (bubblewrap), not to the pool.

/** Files of a worktree record that `addWorktree` writes; everything else in it is a task's. */
const RECORD_FILES = new Set(['commondir', 'gitdir', 'HEAD']);

const CHECKOUT = NodeGit.Checkout.STRATEGY.FORCE | NodeGit.Checkout.STRATEGY.REMOVE_UNTRACKED | NodeGit.Checkout.STRATEGY.REMOVE_IGNORED;
const STATUS = NodeGit.Status.OPT.INCLUDE_UNTRACKED | NodeGit.Status.OPT.INCLUDE_IGNORED | NodeGit.Status.OPT.RECURSE_UNTRACKED_DIRS;
const GITLINK = 0o160000;

/**
 * Resets worktree `w` to what `addWorktree(repo, w.dir, base, { branch })` would make, without
 * recreating it: `branch` created or force-moved to `base` and checked out (see the invariants
 * above). `savedIndex`: where the caller keeps, outside the worktree and its record, a copy of
 * the index as the last verified reset (or `addWorktree`, see `saveIndex`) left it; its stat
 * data spares hashing every unchanged file. Without it (or if it is missing) every file is
 * hashed. Throws `TerminalError('worktree_failed')` when `branch` is checked out in another
 * live worktree or `base` names no commit (as `addWorktree` does), and
 * `RetryableError('worktree_reset_failed')` when the result does not verify; either way the
 * worktree may be half reset and must not be handed to a task. Returns the base commit's sha.
 */
export async function resetWorktree(w: WorktreeRecord, base: string, branch: string, opts: { savedIndex?: string } = {}): Promise<string> {
  const fail = (detail: string): never => {
    throw new RetryableError('worktree_reset_failed', `cannot reset worktree ${w.dir} to ${branch} at ${base}: ${detail}`, { dir: w.dir, base, branch });
  };
  // (1) The record: a task's files go first, then HEAD, commondir, gitdir and `.git` are rewritten.
  const names = await readdir(w.adminDir).catch(() => fail(`its record ${w.adminDir} is gone`));
  await Promise.all(names.filter((n) => !RECORD_FILES.has(n)).map((n) => rm(path.join(w.adminDir, n), { recursive: true, force: true })));
  const sha = await switchWorktree(w, base, branch);
  if (opts.savedIndex) await copyFile(opts.savedIndex, path.join(w.adminDir, 'index')).catch(() => undefined);

  const repo = await openRepository(w.dir);
  try {
    if (path.resolve(repo.workdir()) !== path.resolve(w.dir)) fail(`libgit2 opens it at ${repo.workdir()}`);
    const commit = await repo.getCommit(sha);
    const tree = await commit.getTree();
    // An index holding exactly the base tree: the task's index is gone (with flags such as
    // assume-unchanged or skip-worktree it may have set); entries the saved copy has with the
    // same content keep its stat data, the others are compared by content.
    const index = await repo.refreshIndex();
    await index.readTree(tree);
    await index.write();
    // (2) Paths the base tree does not have, removed; then tracked files rewritten where they differ.
    const files = new Set<string>();
    const dirs = new Set<string>();
    for (const entry of index.entries()) {
      if (entry.mode === GITLINK) dirs.add(entry.path); // a submodule: an empty directory here
      else files.add(entry.path);
      for (let d = path.posix.dirname(entry.path); d !== '.'; d = path.posix.dirname(d)) dirs.add(d);
    }
    await removeStrays(w.dir, '', files, dirs);
    await NodeGit.Checkout.tree(repo, tree, { checkoutStrategy: CHECKOUT });

    // (3) Verify.
    const head = await repo.getHeadCommit();
    if (head?.sha() !== sha || (await repo.head()).name() !== `refs/heads/${branch}`) fail(`HEAD is not ${branch} at ${sha}`);
    const after = await repo.refreshIndex();
    if (after.hasConflicts() || (await after.writeTree()).tostrS() !== commit.treeId().tostrS()) fail('its index is not the base tree');
    const dirty = await repo.getStatusExt({ flags: STATUS });
    if (dirty.length) fail(`it still differs from the base: ${dirty.slice(0, 5).map((f) => f.path()).join(', ')}`);
    if (opts.savedIndex) await saveIndex(w, opts.savedIndex);
    return sha;
  } finally {
    repo.cleanup();
  }
}

/** Removes every path under `dir/rel` that is neither a tracked file nor a directory holding one. */
async function removeStrays(dir: string, rel: string, files: Set<string>, dirs: Set<string>): Promise<void> {
  const entries = await readdir(path.join(dir, rel), { withFileTypes: true });
  await Promise.all(entries.map(async (e) => {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (!rel && e.name === '.git') return; // rewritten by switchWorktree
    if (e.isDirectory() ? dirs.has(p) : files.has(p)) return e.isDirectory() ? removeStrays(dir, p, files, dirs) : undefined;
    await rm(path.join(dir, p), { recursive: true, force: true }); // a symlink is removed, not followed
  }));
}

/** Copies the index of worktree `w` (as a checkout just wrote it) to `file`, for `resetWorktree`'s `savedIndex`. */
export async function saveIndex(w: WorktreeRecord, file: string): Promise<void> {
  await copyFile(path.join(w.adminDir, 'index'), file);
}
