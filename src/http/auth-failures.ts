/** Failed authentications allowed per client address within `windowMs` before it is refused. */
export interface AuthFailureLimit { max: number; windowMs: number }

export const DEFAULT_AUTH_FAILURE_LIMIT: AuthFailureLimit = { max: 10, windowMs: 60_000 };

/** Addresses tracked at most; past this the oldest is forgotten (a flood of addresses cannot exhaust memory). */
const MAX_ADDRESSES = 10_000;

/**
 * A sliding window of failed authentications per client address.
 *
 * 1. `failed(ip)` records one failure at `now()`; successes are never recorded.
 * 2. `retryAfterMs(ip)` is > 0 while the address has `max` failures within the last `windowMs`:
 *    it is then refused whatever token it sends, until its oldest failure leaves the window.
 * 3. Refused requests are not failures: the window is not extended by knocking on it.
 */
export class AuthFailures {
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly limit: AuthFailureLimit = DEFAULT_AUTH_FAILURE_LIMIT, private readonly now: () => number = Date.now) {}

  failed(ip: string): void {
    const times = this.recent(ip);
    times.push(this.now());
    // Only the newest `max` matter for (2).
    if (times.length > this.limit.max) times.splice(0, times.length - this.limit.max);
    this.failures.delete(ip);
    this.failures.set(ip, times);
    if (this.failures.size > MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
  }

  /** Milliseconds until `ip` may try again; 0 when it is not blocked. */
  retryAfterMs(ip: string): number {
    const times = this.recent(ip);
    if (times.length < this.limit.max) return 0;
    return times[times.length - this.limit.max]! + this.limit.windowMs - this.now();
  }

  private recent(ip: string): number[] {
    const since = this.now() - this.limit.windowMs;
    const times = (this.failures.get(ip) ?? []).filter((t) => t > since);
    if (times.length === 0) this.failures.delete(ip);
    return times;
  }
}
