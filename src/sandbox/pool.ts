import path from 'node:path';
import { mkdir, realpath, rm } from 'node:fs/promises';
import { TerminalError } from '../errors.ts';
import { createSandboxRepo, resetSandboxRepo, saveIndex, type SandboxRepo } from '../git/index.ts';
import type { Sandbox, SandboxManager } from './manager.ts';

// A node's warm task sandboxes. Making a sandbox and removing it again per attempt costs a
// directory tree and a full checkout each time; a pooled sandbox is reset instead.
//
// Invariants:
//  1. A sandbox is in at most one place: `idle` (keyed by its clone's git dir) or `busy` (keyed
//     by its directory). `acquire` takes an idle one out synchronously, before any await, so
//     two acquires never get the same sandbox, and no attempt shares one.
//  2. A sandbox is handed out only after `resetSandboxRepo` verified it holds exactly what a
//     fresh one would (see src/git/sandbox-reset.ts). A reset that fails removes the sandbox
//     and the attempt gets a fresh one; a `TerminalError` (an unknown base) is the attempt's,
//     and is thrown as `create` would.
//  3. Idle sandboxes are bounded: at most `perRepository` of one clone (a release beyond it
//     removes the sandbox) and `size` in all (a release beyond it evicts the oldest idle one).
//     Busy sandboxes are bounded by the executor's capacity, not here. An idle sandbox is
//     removed `idleMs` after its release by a timer that does not keep the process alive.
//  4. Pooled sandboxes live at `<root>/pool+<n>`, a name `SandboxManager.dirOf` never makes, so
//     the start-up `sweep` (which removes everything under the root) removes them as well.
//  5. `size: 0` is today's behaviour exactly: `acquire` is `SandboxManager.create`, `release`
//     and `destroy` are `SandboxManager.remove`.

export interface SandboxPoolOptions {
  /** Idle sandboxes kept in all, over every repository; 0 turns the pool off. */
  size: number;
  /** Idle sandboxes kept per repository (default: `size`). */
  perRepository?: number;
  /** ms an idle sandbox is kept before it is removed. */
  idleMs: number;
  /** The clock (ms); tests inject one to drive `shrink` without sleeping. */
  now?: () => number;
  /** Told when a pooled sandbox failed its reset (the attempt then got a fresh one). */
  onResetFailure?: (dir: string, err: unknown) => void;
}

/** Counters since the pool was made; for tests, logs and the benchmark. */
export interface SandboxPoolStats {
  /** Sandboxes made by `createSandboxRepo` (fresh ones). */
  created: number;
  /** Acquires served by a reset pooled sandbox. */
  reused: number;
  /** Pooled sandboxes whose reset failed (removed; a fresh one was made instead). */
  resetFailures: number;
  idle: number;
  busy: number;
}

/** A pooled sandbox; `key` is its clone's git dir (`repo.cloneGitDir`). */
interface Entry { repo: SandboxRepo; key: string; idleSince: number }

/** Where the pool keeps its copy of a sandbox's index (beside the sandbox, so `sweep` removes it too). */
const indexCopy = (s: SandboxRepo) => `${s.dir}.index`;

/** The number in the next pooled sandbox's name: one counter per process, so two pools never collide. */
let nextName = 0;

/**
 * Hands out task sandboxes, reusing the sandboxes of earlier attempts (see the invariants
 * above). Lifetime: one per executor; `close()` removes the idle sandboxes and makes later
 * releases remove theirs. Safe to close twice.
 */
export class SandboxPool {
  private readonly idle = new Map<string, Entry[]>();
  private readonly busy = new Map<string, Entry>();
  /** Repository dir as given → its git dir, for the repositories the pool holds. */
  private readonly keys = new Map<string, string>();
  private idleCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counts = { created: 0, reused: 0, resetFailures: 0 };
  private readonly size: number;
  private readonly perRepository: number;
  private readonly idleMs: number;
  private readonly now: () => number;

  constructor(private readonly manager: SandboxManager, private readonly opts: SandboxPoolOptions) {
    this.size = Math.max(0, opts.size);
    this.perRepository = Math.min(this.size, opts.perRepository ?? this.size);
    this.idleMs = opts.idleMs;
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.size > 0;
  }

  stats(): SandboxPoolStats {
    return { ...this.counts, idle: this.idleCount, busy: this.busy.size };
  }

  /**
   * A sandbox `id` of `repoDir` with `branch` created (or reset) at `base` and checked out, as
   * `SandboxManager.create` makes it: a reset idle sandbox of the same clone if there is one,
   * else a fresh one. Its `dir` is the pooled sandbox's, not `dirOf(id)`. Throws what `create`
   * throws. Give it back with `release` (or `destroy` when in doubt).
   */
  async acquire(repoDir: string, id: string, branch: string, base: string): Promise<Sandbox> {
    if (!this.enabled || this.closed) return this.manager.create(repoDir, id, branch, base);
    const key = await this.keyOf(repoDir);
    for (let entry = key ? this.take(key) : undefined; entry; entry = this.take(entry.key)) {
      try {
        await resetSandboxRepo(entry.repo, base, branch, { savedIndex: indexCopy(entry.repo) });
      } catch (err) {
        await this.removeEntry(entry);
        if (err instanceof TerminalError) throw err; // the attempt's own: a fresh sandbox would fail the same way
        this.counts.resetFailures++;
        this.opts.onResetFailure?.(entry.repo.dir, err);
        continue;
      }
      this.busy.set(entry.repo.dir, entry);
      this.counts.reused++;
      return { id, dir: entry.repo.dir, branch, base, repoDir, cloneGitDir: entry.key };
    }
    const dir = path.join(this.manager.root, `pool+${++nextName}`);
    await mkdir(this.manager.root, { recursive: true });
    const { sha: _, ...repo } = await createSandboxRepo(repoDir, dir, base, branch);
    this.counts.created++;
    await saveIndex(repo, indexCopy(repo)).catch(() => undefined);
    this.keys.set(path.resolve(repoDir), repo.cloneGitDir);
    this.busy.set(repo.dir, { repo, key: repo.cloneGitDir, idleSince: 0 });
    return { id, dir: repo.dir, branch, base, repoDir, cloneGitDir: repo.cloneGitDir };
  }

  /**
   * Gives a sandbox back after an attempt that ended normally (its process exited): it waits,
   * idle, for the next attempt on its clone, or is removed if the pool is full for it. A
   * sandbox the pool did not make is removed. Never throws.
   */
  async release(s: Sandbox): Promise<void> {
    const entry = this.busy.get(s.dir);
    if (!entry) return this.manager.remove(s).catch(() => undefined);
    this.busy.delete(s.dir);
    const list = this.idle.get(entry.key) ?? [];
    if (this.closed || list.length >= this.perRepository) return this.removeEntry(entry);
    if (this.idleCount >= this.size) await this.evictOldest();
    entry.idleSince = this.now();
    list.push(entry);
    this.idle.set(entry.key, list);
    this.idleCount++;
    this.startTimer();
  }

  /** Removes a sandbox instead of pooling it: the attempt was killed, timed out or failed oddly. Never throws. */
  async destroy(s: Sandbox): Promise<void> {
    const entry = this.busy.get(s.dir);
    if (!entry) return this.manager.remove(s).catch(() => undefined);
    this.busy.delete(s.dir);
    return this.removeEntry(entry);
  }

  /** Removes the idle sandboxes released `idleMs` or longer before `now`; returns how many. */
  async shrink(now = this.now()): Promise<number> {
    const old: Entry[] = [];
    for (const [key, list] of this.idle) {
      const keep = list.filter((e) => now - e.idleSince < this.idleMs);
      old.push(...list.filter((e) => now - e.idleSince >= this.idleMs));
      this.setIdle(key, keep);
    }
    await Promise.all(old.map((e) => this.removeEntry(e)));
    if (!this.idleCount) this.stopTimer();
    return old.length;
  }

  /**
   * Removes the idle sandboxes of `repoDir` (a path sandboxes were acquired with, or the
   * clone's git dir itself) now; call before removing that clone: its pooled sandboxes
   * borrow its objects and could not be reset any more. Busy ones are left to their attempts.
   */
  async forget(repoDir: string): Promise<void> {
    const dir = path.resolve(repoDir);
    const key = this.keys.get(dir) ?? (this.idle.has(dir) ? dir : undefined);
    if (!key) return;
    const list = this.idle.get(key) ?? [];
    this.setIdle(key, []);
    await Promise.all(list.map((e) => this.removeEntry(e)));
  }

  /** Removes every idle sandbox now; busy ones are removed when released. Safe to call twice. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopTimer();
    const all = [...this.idle.values()].flat();
    for (const key of [...this.idle.keys()]) this.setIdle(key, []);
    await Promise.all(all.map((e) => this.removeEntry(e)));
  }

  /** The most recently released idle sandbox of clone `key` (its files are warmest), taken out. */
  private take(key: string): Entry | undefined {
    const list = this.idle.get(key);
    const entry = list?.pop();
    if (entry) this.idleCount--;
    if (list && !list.length) this.idle.delete(key);
    return entry;
  }

  private setIdle(key: string, list: Entry[]): void {
    this.idleCount += list.length - (this.idle.get(key)?.length ?? 0);
    if (list.length) this.idle.set(key, list);
    else this.idle.delete(key);
  }

  private async evictOldest(): Promise<void> {
    let oldest: Entry | undefined;
    for (const list of this.idle.values()) if (list[0] && (!oldest || list[0].idleSince < oldest.idleSince)) oldest = list[0];
    if (!oldest) return;
    this.setIdle(oldest.key, this.idle.get(oldest.key)!.slice(1));
    await this.removeEntry(oldest);
  }

  /**
   * The pool's key (the clone's git dir) for a path sandboxes are acquired with.
   * Tickets reach one shared clone through links of their own (`repos/<ticket>`), so a path
   * seen for the first time is resolved: a bare clone's common dir is its real path, a
   * working clone's is `<real path>/.git`.
   */
  private async keyOf(repoDir: string): Promise<string | undefined> {
    const dir = path.resolve(repoDir);
    const known = this.keys.get(dir);
    if (known) return known;
    const real = await realpath(dir).catch(() => undefined);
    const key = real && [real, path.join(real, '.git')].find((k) => this.idle.has(k));
    if (key) this.keys.set(dir, key);
    return key;
  }

  private async removeEntry(entry: Entry): Promise<void> {
    await rm(entry.repo.dir, { recursive: true, force: true });
    await rm(indexCopy(entry.repo), { force: true });
    // Forget a clone's git dir once the pool holds nothing of it.
    if (!this.idle.has(entry.key) && ![...this.busy.values()].some((e) => e.key === entry.key)) {
      for (const [dir, key] of this.keys) if (key === entry.key) this.keys.delete(dir);
    }
  }

  private startTimer(): void {
    if (this.timer || !Number.isFinite(this.idleMs)) return;
    this.timer = setInterval(() => void this.shrink().catch(() => undefined), Math.max(10, Math.floor(this.idleMs / 2)));
    this.timer.unref();
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
