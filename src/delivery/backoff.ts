/** How long to wait before the next attempt of a delivery that failed retryably. */
export interface BackoffOptions {
  /** Delay after the first failed attempt, ms (default 2000). */
  baseMs: number;
  /** Largest delay, ms (default 600000: ten minutes). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 2_000, maxMs: 600_000 };

/**
 * Exponential backoff with jitter: after attempt n (1, 2, ...) wait between half and all of
 * `baseMs * 2^(n-1)` (capped at `maxMs`), so nodes retrying the same dead route spread out.
 * `random` returns [0, 1) (injected by tests).
 */
export function backoffDelay(attempt: number, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
