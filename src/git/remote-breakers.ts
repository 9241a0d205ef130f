import path from 'node:path';
import type { Breakers } from '../breakers/index.ts';
import { RetryableError } from '../errors.ts';
import { redactUrl } from '../redact.ts';

/**
 * The circuit breakers git remotes (clone, fetch) go through, per data directory: the clone
 * cache's functions know only their node's data directory, and one process may run several
 * nodes (tests), each with its own `Breakers`. Registered by the node at start, dropped at stop.
 */
const byDataDir = new Map<string, Breakers>();

export function useRemoteBreakers(dataDir: string, breakers: Breakers): () => void {
  const key = path.resolve(dataDir);
  byDataDir.set(key, breakers);
  return () => { if (byDataDir.get(key) === breakers) byDataDir.delete(key); };
}

export function remoteBreakersOf(dataDir: string): Breakers | undefined {
  return byDataDir.get(path.resolve(dataDir));
}

/** A breaker's key for a remote: its URL (or path) without credentials. */
export function remoteKey(source: string): string {
  return redactUrl(source.trim());
}

/**
 * Only the remote's own failures count (unreachable, refused, timed out: `repository_fetch_failed`);
 * a source that is not a repository is the ticket's mistake, not a dead remote.
 */
export function isRemoteFailure(err: Error): boolean {
  return err instanceof RetryableError && err.code === 'repository_fetch_failed';
}
