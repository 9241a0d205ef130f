import { copyFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import NodeGit from 'nodegit';
import { RetryableError } from '../errors.ts';
import { openRepository } from './repository.ts';
import { resolveSandboxBase, writeGitDir, type SandboxRepo } from './sandbox-repo.ts';

// Resetting a used sandbox to exactly what `createSandboxRepo` would make, for the sandbox pool.
//
// Invariants (each step below says which one it keeps):
//  1. Nothing of the task's git dir survives: `<dir>/.git` (whatever the task made of it: its
//     refs, branches, tags, stash, config, hooks, `MERGE_HEAD`, rebase state, objects) is
//     deleted and written anew before libgit2 opens the sandbox, so none of it can steer the
//     reset itself.
//  2. The work tree holds the base tree's paths and nothing else: every other path (untracked,
//     ignored, empty directories, nested repositories) is removed without following symlinks;
//     tracked files are rewritten where their content or type differs.
//  3. Verified, not assumed: HEAD is the branch at the base, the workdir is the sandbox's own
//     directory, the index's tree is the base commit's tree, and a status with untracked and
//     ignored files is empty. Otherwise `RetryableError('sandbox_reset_failed')`: the caller
//     throws the sandbox away.
// The clone itself is not the sandbox's: its objects are borrowed read-only (alternates), and
// its refs, config and hooks are not in the sandbox's git dir at all.

const CHECKOUT = NodeGit.Checkout.STRATEGY.FORCE | NodeGit.Checkout.STRATEGY.REMOVE_UNTRACKED | NodeGit.Checkout.STRATEGY.REMOVE_IGNORED;
const STATUS = NodeGit.Status.OPT.INCLUDE_UNTRACKED | NodeGit.Status.OPT.INCLUDE_IGNORED | NodeGit.Status.OPT.RECURSE_UNTRACKED_DIRS;
const GITLINK = 0o160000;

/**
 * Resets sandbox `s` to what `createSandboxRepo(clone, s.dir, base, branch)` would make,
 * without recreating its files (see the invariants above). `savedIndex`: where the caller
 * keeps, outside the sandbox, a copy of the index as the last verified reset (or create, see
 * `saveIndex`) left it; its stat data spares hashing every unchanged file. Without it (or if
 * it is missing) every file is hashed. Throws `TerminalError('sandbox_failed')` when `base`
 * names no commit (as `createSandboxRepo` does), and `RetryableError('sandbox_reset_failed')`
 * when the result does not verify; either way the sandbox may be half reset and must not be
 * handed to a task. Returns the base commit's sha.
 */
export async function resetSandboxRepo(s: SandboxRepo, base: string, branch: string, opts: { savedIndex?: string } = {}): Promise<string> {
  const fail = (detail: string): never => {
    throw new RetryableError('sandbox_reset_failed', `cannot reset sandbox ${s.dir} to ${branch} at ${base}: ${detail}`, { dir: s.dir, base, branch });
  };
  const { sha } = await resolveSandboxBase(s.cloneGitDir, base, branch);
  // (1) The git dir, anew.
  await writeGitDir(s, branch, sha).catch((err: Error) => fail(`cannot rewrite its git dir: ${err.message}`));
  if (opts.savedIndex) await copyFile(opts.savedIndex, path.join(s.dir, '.git', 'index')).catch(() => undefined);

  const repo = await openRepository(s.dir);
  try {
    if (path.resolve(repo.workdir()) !== path.resolve(s.dir)) fail(`libgit2 opens it at ${repo.workdir()}`);
    const commit = await repo.getCommit(sha);
    const tree = await commit.getTree();
    // An index holding exactly the base tree (the task's index, with flags such as
    // assume-unchanged or skip-worktree it may have set, went with its git dir); entries the
    // saved copy has with the same content keep its stat data, the others are compared by content.
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
    await removeStrays(s.dir, '', files, dirs);
    await NodeGit.Checkout.tree(repo, tree, { checkoutStrategy: CHECKOUT });

    // (3) Verify.
    const head = await repo.getHeadCommit();
    if (head?.sha() !== sha || (await repo.head()).name() !== `refs/heads/${branch}`) fail(`HEAD is not ${branch} at ${sha}`);
    const after = await repo.refreshIndex();
    if (after.hasConflicts() || (await after.writeTree()).tostrS() !== commit.treeId().tostrS()) fail('its index is not the base tree');
    const dirty = await repo.getStatusExt({ flags: STATUS });
    if (dirty.length) fail(`it still differs from the base: ${dirty.slice(0, 5).map((f) => f.path()).join(', ')}`);
    if (opts.savedIndex) await saveIndex(s, opts.savedIndex);
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
    if (!rel && e.name === '.git') return; // rewritten by writeGitDir
    if (e.isDirectory() ? dirs.has(p) : files.has(p)) return e.isDirectory() ? removeStrays(dir, p, files, dirs) : undefined;
    await rm(path.join(dir, p), { recursive: true, force: true }); // a symlink is removed, not followed
  }));
}

/** Copies the index of sandbox `s` (as a checkout just wrote it) to `file`, for `resetSandboxRepo`'s `savedIndex`. */
export async function saveIndex(s: SandboxRepo, file: string): Promise<void> {
  await copyFile(path.join(s.dir, '.git', 'index'), file);
}
