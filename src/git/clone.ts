import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { RetryableError, TerminalError } from '../errors.ts';
import { redactIn, redactUrl } from '../redact.ts';
import { runGitCli } from './git-cli.ts';
import { repoLock } from './keyed-lock.ts';
import type { Breakers } from '../breakers/index.ts';
import { isRemoteFailure, remoteKey } from './remote-breakers.ts';

/** Refspec of Omoi's clones: the source's branches mirrored as local branches, forced. */
const BRANCH_MIRROR = '+refs/heads/*:refs/heads/*';
/**
 * Never fetched: Omoi's own namespaces (`omoi/<ticket>`, `omoi-task/<ticket>/…`). A clone is
 * shared by every ticket on its repository, so a fetch for one ticket must not move (or fail on,
 * when checked out in a sandbox) another ticket's branches, even if the source has such names.
 */
const OWN_NAMESPACES = ['^refs/heads/omoi/*', '^refs/heads/omoi-task/*'];

/** Answers from git that mean the source itself is wrong, not the network. */
const PERMANENT_FAILURE = /not a git repository|does not appear to be a git repository|repository .* not found|not found|could not read from remote repository|authentication failed/i;

/** True for a URL (`scheme://…`) or scp-like (`user@host:path`) source; false for a local path. */
function isRemote(source: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /^[^/\\]+@[^/\\]+:/.test(source);
}

/**
 * Makes `cloneDir` Omoi's own bare clone of `source` (a local path or a clone URL), up to date.
 * Idempotent: an existing clone gets its `origin` pointed at `source` and is fetched; a
 * half-made clone (e.g. after a crash) is replaced. The source's branches appear as local
 * branches of the same name (so `resolveCommit(cloneDir, 'main')` is the source's `main` as of
 * the last fetch); Omoi's own branches (`omoi/…`, `omoi-task/…`) are never fetched into, even
 * when the source has branches of the same name. Uses the git CLI so every transport and the user's git
 * configuration (credentials, ssh) work.
 * Throws `TerminalError('repository_unavailable')` when the source does not exist or is not a
 * repository, `RetryableError('repository_fetch_failed')` for other (possibly transient) failures.
 * With `breakers`, the clone or fetch goes through the remote's `git_remote` breaker (key: the
 * source without credentials): while it is open, `CircuitOpenError` (`circuit_open`, retryable)
 * is thrown without calling the remote.
 */
export async function ensureClone(source: string, cloneDir: string, breakers?: Breakers): Promise<void> {
  if (breakers && source) return breakers.run('git_remote', remoteKey(source), () => ensureClone(source, cloneDir), isRemoteFailure);
  if (!source) throw new TerminalError('repository_unavailable', 'repository source is empty');
  const from = isRemote(source) ? source : path.resolve(source);
  if (!isRemote(source) && !existsSync(from)) {
    throw new TerminalError('repository_unavailable', `repository ${source} does not exist`, { source });
  }
  const dir = path.resolve(cloneDir);
  await repoLock.run(dir, async () => {
    if (await isRepository(dir)) {
      await git(['remote', 'set-url', 'origin', from], dir, source);
      await git(['fetch', '--quiet', '--tags', '--force', 'origin', BRANCH_MIRROR, ...OWN_NAMESPACES], dir, source);
      return;
    }
    if (existsSync(dir) && (await readdir(dir)).length > 0) {
      // Never delete what we did not make: our clones appear only by an atomic rename.
      throw new TerminalError('clone_dir_occupied', `${dir} exists and is not a git clone; refusing to overwrite it`, { cloneDir: dir });
    }
    // Clone beside the target and rename into place, so a crash never leaves a half clone
    // that looks complete; leftovers of earlier crashed clones are removed first.
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.dirname(dir), { recursive: true });
    await removeStalePartials(dir);
    const partial = `${dir}.partial-${process.pid}-${Date.now()}`;
    try {
      await git(['clone', '--quiet', '--bare', from, partial], undefined, source);
      await git(['config', 'remote.origin.fetch', BRANCH_MIRROR], partial, source);
      await rename(partial, dir);
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  });
}

async function removeStalePartials(dir: string): Promise<void> {
  const prefix = `${path.basename(dir)}.partial-`;
  for (const name of await readdir(path.dirname(dir))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (pid !== process.pid && isAlive(pid)) continue; // another process is cloning right now
    await rm(path.join(path.dirname(dir), name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function isRepository(dir: string): Promise<boolean> {
  try {
    if (!(await stat(dir)).isDirectory()) return false;
  } catch {
    return false;
  }
  const probe = await runGitCli(['rev-parse', '--git-dir'], dir);
  // Only a repository whose git dir is `dir` itself (a bare clone) counts; a dir inside some
  // other repository must not be mistaken for our clone.
  return probe.code === 0 && path.resolve(dir, probe.stdout.trim()) === dir;
}

async function git(args: string[], cwd: string | undefined, source: string): Promise<void> {
  const result = await runGitCli(args, cwd);
  if (result.code === 0) return;
  // Errors reach events and dead letters: no credential of the URL may be in them (nor in git's words).
  const detail = redactIn(result.stderr.trim() || `git ${args[0]} exited with ${result.code}`, source);
  const shown = redactUrl(source);
  if (PERMANENT_FAILURE.test(detail)) {
    throw new TerminalError('repository_unavailable', `cannot clone ${shown}: ${detail}`, { source: shown });
  }
  throw new RetryableError('repository_fetch_failed', `cannot fetch ${shown}: ${detail}`, { source: shown });
}
