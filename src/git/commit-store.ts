import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { TerminalError } from '../errors.ts';
import { createBundle, hasCommit, isAncestor, readBundleHeader, unbundle } from './bundle.ts';
import { attachTicketClone, ticketRepoDir } from './clone-cache.ts';
import { KeyedLock } from './keyed-lock.ts';

/**
 * Where bundles live off the node: a JetStream object store bucket in production
 * (src/messaging/git-bucket.ts). Objects are named `<ticket>/<commit>`.
 */
export interface BundleBucket {
  /** Whether an object of this name exists. */
  has(name: string): Promise<boolean>;
  /** Stores `file` under `name` (replacing nothing that exists: callers check `has` first). */
  put(name: string, file: string, metadata: Record<string, string>): Promise<{ size: number; digest: string }>;
  /** Writes the object `name` to `file` (its digest checked); its metadata, or `null` if there is no such object. */
  get(name: string, file: string): Promise<{ metadata: Record<string, string> } | null>;
}

/** What one `save` did: `uploaded: false` when the bucket had it already or the commit added nothing. */
export interface SavedCommit { name: string; bytes: number; ms: number; uploaded: boolean }

/**
 * A node's disk is a cache: every commit Omoi makes (a task's, a merge's) is saved as a git
 * bundle in the bucket before the message that announces it is published, and a node that
 * lacks a commit it needs (the base of a task, the sources of a merge, a ticket's head) gets
 * it back from there into its clone of the ticket's repository.
 *
 * Invariants:
 * 1. **Saved before announced.** `save(ticket, commit, exclude)` returns once the bundle of
 *    what `commit` adds over `exclude` is durable in the bucket; its callers publish the
 *    commit only after (src/executor/local-executor.ts, src/actors/merge-actor.ts).
 * 2. **Every commit is reachable.** A bundle's `exclude` (its `requires` metadata) are commits
 *    that are themselves saved or in the ticket's repository (the ticket's base): so `ensure`
 *    can always walk back to commits it has, fetching each bundle before the ones that need it.
 * 3. **Idempotent.** Objects are named by content (`<ticket>/<commit>`) and never rewritten;
 *    saving or ensuring twice, on one node or many at once, is harmless.
 * 4. **Verified.** The object store checks each object's SHA-256 digest, `git bundle unbundle`
 *    every git object; a bundle that does not bring the commit it is named after is refused.
 */
export class CommitStore {
  private readonly ensuring = new KeyedLock();

  constructor(private readonly deps: { dataDir: string; bucket: BundleBucket }) {}

  /** The bucket's object name of `commit` of ticket `ticketId`. */
  static objectName(ticketId: string, commit: string): string {
    return `${ticketId}/${commit}`;
  }

  /**
   * Saves what `commit` (in the ticket's clone on this node) adds over `exclude` — a task's
   * base, a merge's sources and base — unless the bucket has it already. A commit that adds
   * nothing (a task that changed no file) needs no object.
   */
  async save(ticketId: string, commit: string, exclude: readonly string[]): Promise<SavedCommit> {
    const started = performance.now();
    const name = CommitStore.objectName(ticketId, commit);
    const done = (bytes: number, uploaded: boolean): SavedCommit => ({ name, bytes, ms: performance.now() - started, uploaded });
    if (exclude.includes(commit)) return done(0, false); // nothing added: no object, no round trip
    if (await this.deps.bucket.has(name)) return done(0, false);
    const file = await this.tempFile();
    try {
      const repoDir = ticketRepoDir(this.deps.dataDir, ticketId);
      if (!(await createBundle(repoDir, commit, exclude, file))) return done(0, false);
      const { size } = await this.deps.bucket.put(name, file, { requires: exclude.join(',') });
      return done(size, true);
    } finally {
      await rm(file, { force: true });
    }
  }

  /**
   * `save`, tried again with backoff (0.25 s doubling to 5 s) while it fails for a passing
   * reason (NATS away: the commit cannot be announced before it is durable, so its announcer
   * waits rather than fail), until it succeeds, fails for good (`TerminalError`) or `signal`
   * aborts (then the last error is thrown).
   */
  saveRetrying(ticketId: string, commit: string, exclude: readonly string[], o: RetryOptions = {}): Promise<SavedCommit> {
    return retryPassing(() => this.save(ticketId, commit, exclude), o);
  }

  /**
   * `ensure`, retrying passing failures (NATS answering `timeout` or 503 while a stream of the
   * object store elects a leader, seconds after a nats-server dies) for up to `patienceMs`
   * (default 60 s) or until `signal` aborts; a `TerminalError` (`commit_unavailable`) at once.
   * An attempt should not burn its retries on an election.
   */
  ensureRetrying(ticketId: string, repository: string, commits: readonly string[], o: RetryOptions & { patienceMs?: number } = {}): Promise<void> {
    return retryPassing(() => this.ensure(ticketId, repository, commits), { ...o, until: Date.now() + (o.patienceMs ?? 60_000) });
  }

  /**
   * Makes sure this node has the ticket's clone (`<dataDir>/repos/<ticket>`, cloned from
   * `repository` if missing) holding every commit of `commits`: from the bucket, else from
   * the repository (a ticket's base is a commit of the user's repository). Throws
   * `TerminalError('commit_unavailable')` for a commit that is in neither.
   */
  async ensure(ticketId: string, repository: string, commits: readonly string[]): Promise<void> {
    await attachTicketClone(this.deps.dataDir, ticketId, repository);
    const repoDir = ticketRepoDir(this.deps.dataDir, ticketId);
    for (const commit of commits) await this.ensureOne(repoDir, ticketId, repository, commit);
  }

  /**
   * A commit delivered from outside Omoi (a remote agent's, uploaded as `<ticket>/<commit>`):
   * `ensure`s it and the task's `base`, then checks that it descends from `base`. Throws
   * `TerminalError` — `commit_unavailable` (in neither the bucket nor the repository),
   * `bad_bundle` (its object is no bundle git accepts) or `not_descendant` — for a commit that
   * must be refused; a passing failure (NATS away) as it came.
   */
  async ensureDescendant(ticketId: string, repository: string, base: string, commit: string): Promise<void> {
    await this.ensure(ticketId, repository, [base, commit]);
    if (!(await isAncestor(ticketRepoDir(this.deps.dataDir, ticketId), base, commit))) {
      throw new TerminalError('not_descendant', `commit ${commit} does not descend from the task's base ${base}`, { commit, base });
    }
  }

  private async ensureOne(repoDir: string, ticketId: string, repository: string, commit: string): Promise<void> {
    if (await hasCommit(repoDir, commit)) return;
    await this.ensuring.run(`${repoDir}\0${commit}`, async () => {
      if (await hasCommit(repoDir, commit)) return; // another caller brought it meanwhile
      const file = await this.tempFile();
      try {
        const got = await this.deps.bucket.get(CommitStore.objectName(ticketId, commit), file);
        if (!got) {
          // Not made by Omoi: a commit of the user's repository (the ticket's base, a resolution pushed there).
          await attachTicketClone(this.deps.dataDir, ticketId, repository, commit);
          if (await hasCommit(repoDir, commit)) return;
          throw new TerminalError('commit_unavailable', `commit ${commit} of ticket ${ticketId} is neither in the object store nor in ${repository}`, { commit });
        }
        const header = await readBundleHeader(file);
        const requires = got.metadata.requires !== undefined ? got.metadata.requires.split(',').filter(Boolean) : header.prerequisites;
        for (const before of requires) await this.ensureOne(repoDir, ticketId, repository, before);
        await unbundle(repoDir, file);
        if (!(await hasCommit(repoDir, commit))) {
          throw new TerminalError('commit_unavailable', `the object store's bundle of ${commit} (ticket ${ticketId}) does not contain that commit`, { commit });
        }
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  private async tempFile(): Promise<string> {
    const dir = path.join(this.deps.dataDir, 'tmp', 'bundles');
    await mkdir(dir, { recursive: true });
    return path.join(dir, `${Date.now()}-${randomBytes(6).toString('hex')}.bundle`);
  }
}

export interface RetryOptions { signal?: AbortSignal; onRetry?: (err: unknown, waitMs: number) => void }

/** Runs `step` until it succeeds, throws a `TerminalError`, `signal` aborts or the time `until` passed (then the last error is thrown); waits 250 ms, doubling up to 5 s, in between. */
async function retryPassing<T>(step: () => Promise<T>, o: RetryOptions & { until?: number }): Promise<T> {
  for (let wait = 250; ; wait = Math.min(wait * 2, 5_000)) {
    try {
      return await step();
    } catch (err) {
      if (err instanceof TerminalError || o.signal?.aborted || (o.until !== undefined && Date.now() + wait > o.until)) throw err;
      o.onRetry?.(err, wait);
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
