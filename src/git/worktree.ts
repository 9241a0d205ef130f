import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import NodeGit from 'nodegit';
import { RetryableError, TerminalError } from '../errors.ts';
import { runGitCli } from './git-cli.ts';
import { repoLock } from './keyed-lock.ts';
import { commitShaIn, openRepository } from './repository.ts';

// Worktrees are laid out by hand, in git's own on-disk format (`<repo>/worktrees/<name>/` with
// `gitdir`, `commondir`, `HEAD`; `<dir>/.git` pointing back), and checked out with libgit2.
// Worktrees are what merge sandboxes are (task sandboxes are repositories of their own, see
// sandbox-repo.ts). Why not `git worktree add`/`prune`: one is made and removed for every
// merge, and each CLI spawn blocks the event loop for milliseconds and is serialized by the
// repository lock — at hundreds of tasks a second that was the node's bottleneck. nodegit
// 0.27's `Worktree.add` cannot start at a chosen commit or on an existing branch. The format is
// what git ≥ 2.5 reads, so `git worktree list/prune` and git commands in the sandbox still work.

/**
 * Creates a worktree of `repoDir` at `dir`. With `branch`, the branch is created or reset to
 * `base` and checked out; without, HEAD is detached at `base`. A leftover at `dir` (a crashed
 * earlier run) is removed first, with its worktree record, so this is safe to repeat.
 * `checkout: false` writes no files and no index (the caller checks out later, if at all).
 * Spawns no process; returns where the worktree and its record are, and the base's sha.
 * Throws `TerminalError('worktree_failed')` for an unknown base, an invalid
 * branch name or a branch checked out in another live worktree; `RetryableError` otherwise.
 */
export async function addWorktree(repoDir: string, dir: string, base: string, opts: { branch?: string; checkout?: boolean } = {}): Promise<WorktreeRecord & { sha: string }> {
  const target = path.resolve(dir);
  await removeWorktreeDir(target);
  const fail = (detail: string, terminal: boolean): never => {
    const message = `cannot create worktree ${target} at ${base}: ${detail}`;
    throw terminal
      ? new TerminalError('worktree_failed', message, { dir: target, base, branch: opts.branch })
      : new RetryableError('worktree_failed', message, { dir: target, base });
  };
  const refName = opts.branch ? `refs/heads/${opts.branch}` : null;
  if (refName && !NodeGit.Reference.isValidName(refName)) fail(`${JSON.stringify(opts.branch)} is not a valid branch name`, true);

  let adminDir: string | undefined;
  let commonDir = '';
  let sha = '';
  try {
    const repo = await openRepository(repoDir);
    try {
      sha = await commitShaIn(repo, base).catch(() => fail(`${JSON.stringify(base)} does not name a commit`, true));
      commonDir = path.resolve(repo.commondir());
      // One lock per repository: the "checked out elsewhere" check, the choice of the record's
      // name and the branch move must not interleave with another sandbox of this repository.
      await repoLock.run(commonDir, async () => {
        if (refName) {
          const holder = await liveWorktreeOn(commonDir, refName, repo.isBare() ? null : repo.workdir());
          if (holder) fail(`branch ${opts.branch} is already checked out at ${holder}`, true);
        }
        const record = (adminDir = await claimRecord(commonDir, target));
        if (refName) (await checkedOut(commonDir)).set(record, refName);
        await writeRecord(repo, { dir: target, adminDir: record, commonDir }, sha, refName);
      });
    } finally {
      repo.cleanup();
    }
    if (opts.checkout !== false) {
      const worktree = await openRepository(target);
      try {
        await NodeGit.Checkout.head(worktree, { checkoutStrategy: NodeGit.Checkout.STRATEGY.FORCE });
      } finally {
        worktree.cleanup();
      }
    }
  } catch (err) {
    await rm(target, { recursive: true, force: true });
    if (adminDir) await rm(adminDir, { recursive: true, force: true });
    if (err instanceof TerminalError || err instanceof RetryableError) throw err;
    fail((err as Error).message, false);
  }
  return { dir: target, adminDir: adminDir!, commonDir, sha };
}

/** Where a worktree lives: its directory, its record `<commonDir>/worktrees/<name>`, its repository's git dir. */
export interface WorktreeRecord { dir: string; adminDir: string; commonDir: string }

/**
 * Writes the files that make `w` a worktree on `refName` (or detached at `sha`): the record's
 * `commondir`, `gitdir`, `HEAD`, the branch moved to `sha`, and `<dir>/.git`. Independent
 * writes, in parallel: on a slow disk each costs about a millisecond.
 */
async function writeRecord(repo: NodeGit.Repository, w: WorktreeRecord, sha: string, refName: string | null): Promise<void> {
  await Promise.all([
    writeFile(path.join(w.adminDir, 'commondir'), '../..\n'),
    writeFile(path.join(w.adminDir, 'gitdir'), `${path.join(w.dir, '.git')}\n`),
    writeFile(path.join(w.adminDir, 'HEAD'), refName ? `ref: ${refName}\n` : `${sha}\n`),
    refName && NodeGit.Reference.create(repo, refName, NodeGit.Oid.fromString(sha), 1, `omoi: sandbox ${path.basename(w.dir)} at ${sha}`),
    mkdir(w.dir, { recursive: true }).then(() => writeFile(path.join(w.dir, '.git'), `gitdir: ${w.adminDir}\n`)),
  ]);
}

/**
 * Removes the worktree at `dir`: its files and its record in the owning repository (found via
 * the worktree's `.git` file, so the repository need not be known). Branches are kept. Never
 * fails because the worktree is already gone; idempotent. Spawns no process. With `known`, the
 * record is that one, not the one the worktree's `.git` names (which its task could rewrite).
 */
export async function removeWorktreeDir(dir: string, known?: WorktreeRecord): Promise<void> {
  const target = path.resolve(dir);
  const record = known ? { adminDir: known.adminDir, repoGitDir: known.commonDir } : await worktreeRecord(target);
  await rm(target, { recursive: true, force: true });
  if (record) {
    await rm(record.adminDir, { recursive: true, force: true });
    const key = path.resolve(record.repoGitDir);
    const known = heads.get(key);
    known?.delete(record.adminDir);
    if (known?.size === 0) heads.delete(key); // a finished ticket's repository is not remembered forever
  }
}

/**
 * Drops the records of worktrees whose directory is gone (`git worktree prune`). For start-up
 * sweeps, where a crash may have left a record whose directory no longer points back to it.
 * Never throws: a repository that is gone has nothing to prune.
 */
export async function pruneWorktrees(repoDir: string): Promise<void> {
  await repoLock.run(path.resolve(repoDir), () => runGitCli(['worktree', 'prune'], repoDir)).catch(() => undefined);
}

/**
 * The repository that owns the worktree at `dir`, read from its `.git` file
 * (`gitdir: <repo git dir>/worktrees/<name>`), or `null` if `dir` is no worktree (or the
 * repository is gone).
 */
export async function owningRepository(dir: string): Promise<string | null> {
  return (await worktreeRecord(path.resolve(dir)))?.repoGitDir ?? null;
}

/** The record (`<repo>/worktrees/<name>`) the worktree at `target` points to, if both exist. */
async function worktreeRecord(target: string): Promise<{ adminDir: string; repoGitDir: string } | null> {
  let pointer: string;
  try {
    pointer = await readFile(path.join(target, '.git'), 'utf8');
  } catch {
    return null;
  }
  const match = /^gitdir:\s*(.+)$/m.exec(pointer);
  if (!match) return null;
  const adminDir = path.resolve(target, match[1]!.trim());
  const repoGitDir = path.dirname(path.dirname(adminDir)); // strip `worktrees/<name>`
  if (path.basename(path.dirname(adminDir)) !== 'worktrees' || !(await exists(repoGitDir))) return null;
  return { adminDir, repoGitDir };
}

/**
 * A fresh, empty record directory for the worktree at `target`, named after it as git does
 * (`<name>`, else `<name>1`, `<name>2`…). A record that points to `target` (a crash left it) or
 * to a directory that is gone (what `git worktree prune` would drop) is removed and reused.
 */
async function claimRecord(commonDir: string, target: string): Promise<string> {
  const records = path.join(commonDir, 'worktrees');
  await mkdir(records, { recursive: true });
  const name = path.basename(target);
  for (let n = 0; ; n++) {
    const adminDir = path.join(records, n === 0 ? name : `${name}${n}`);
    const points = await recordTarget(adminDir);
    if (points === undefined || points === path.join(target, '.git') || !(await exists(points))) {
      await rm(adminDir, { recursive: true, force: true });
      await mkdir(adminDir);
      return adminDir;
    }
  }
}

/**
 * What each worktree record of a repository (`<commonDir>/worktrees/<name>`) had checked out
 * when made, by common dir: read from disk once per repository and process, then kept up to
 * date by `addWorktree` and `removeWorktreeDir`. Without it every new sandbox read the HEAD of
 * every live one: O(live sandboxes) file reads per task. Records only Omoi makes are expected
 * here (the repositories are Omoi's own clones); the check below still verifies on disk.
 */
const heads = new Map<string, Map<string, string>>();

async function checkedOut(commonDir: string): Promise<Map<string, string>> {
  const key = path.resolve(commonDir);
  let known = heads.get(key);
  if (known) return known;
  const headRef = async (file: string) => /^ref:\s*(\S+)/.exec(await readFile(file, 'utf8').catch(() => ''))?.[1];
  const records = path.join(key, 'worktrees');
  const names = await readdir(records).catch(() => [] as string[]);
  const refs = await Promise.all(names.map((name) => headRef(path.join(records, name, 'HEAD'))));
  known = heads.get(key) ?? new Map(names.flatMap((name, i) => (refs[i] ? [[path.join(records, name), refs[i]!] as const] : [])));
  heads.set(key, known);
  return known;
}

/**
 * The directory of a live worktree of the repository that has `refName` checked out (the main
 * working tree `mainWorkdir`, if any, included), or `null`. Records of worktrees whose
 * directory is gone do not count, and are dropped as `git worktree prune` would; nor does the
 */
async function liveWorktreeOn(commonDir: string, refName: string, mainWorkdir: string | null): Promise<string | null> {
  const headRef = async (file: string) => /^ref:\s*(\S+)/.exec(await readFile(file, 'utf8').catch(() => ''))?.[1];
  if (mainWorkdir && (await headRef(path.join(commonDir, 'HEAD'))) === refName) return mainWorkdir;
  const known = await checkedOut(commonDir);
  for (const [adminDir, ref] of [...known]) {
    if (ref !== refName) continue;
    const points = (await headRef(path.join(adminDir, 'HEAD'))) === refName ? await recordTarget(adminDir) : undefined;
    if (points !== undefined && (await exists(points))) return path.dirname(points);
    known.delete(adminDir);
    if (points !== undefined) await rm(adminDir, { recursive: true, force: true }); // stale: its worktree is gone
  }
  return null;
}

/** The `.git` path a worktree record points to (its `gitdir` file), or undefined if it has none. */
async function recordTarget(adminDir: string): Promise<string | undefined> {
  try {
    return path.resolve(adminDir, (await readFile(path.join(adminDir, 'gitdir'), 'utf8')).trim());
  } catch {
    return undefined;
  }
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}
