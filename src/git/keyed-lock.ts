/**
 * Serializes async work per key inside this process (e.g. per clone directory), so two
 * sandboxes of one repository never run `git worktree` or a fetch at the same time.
 * Cross-process safety is git's own lock files; this only avoids needless lock contention.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.catch(() => undefined).then(work);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      // Forget the key once nobody queued behind us, so the map does not grow forever.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** One lock per repository directory, shared by clone, worktree and merge code. */
export const repoLock = new KeyedLock();
