/** At most `max` events per key within any `windowMs`. */
export interface WindowLimit { max: number; windowMs: number }

/** Keys tracked at most; past this the oldest is forgotten (a flood of keys cannot exhaust memory). */
const MAX_KEYS = 10_000;

/**
 * A sliding window of events per key: failed logins per client address, calls per attempt.
 *
 * 1. `record(key)` records one event at `now()`.
 * 2. `retryAfterMs(key)` is > 0 while the key has `max` events within the last `windowMs`: the
 *    caller then refuses, until the oldest of them leaves the window.
 * 3. Refusals are not recorded by callers: the window is not extended by knocking on it.
 */
export class SlidingWindow {
  private readonly events = new Map<string, number[]>();

  constructor(private readonly limit: WindowLimit, private readonly now: () => number = Date.now) {}

  record(key: string): void {
    const times = this.recent(key);
    times.push(this.now());
    // Only the newest `max` matter for (2).
    if (times.length > this.limit.max) times.splice(0, times.length - this.limit.max);
    this.events.delete(key);
    this.events.set(key, times);
    if (this.events.size > MAX_KEYS) this.events.delete(this.events.keys().next().value!);
  }

  /** Milliseconds until `key` may go on; 0 when it is not held back. */
  retryAfterMs(key: string): number {
    const times = this.recent(key);
    if (times.length < this.limit.max) return 0;
    return times[times.length - this.limit.max]! + this.limit.windowMs - this.now();
  }

  private recent(key: string): number[] {
    const since = this.now() - this.limit.windowMs;
    const times = (this.events.get(key) ?? []).filter((t) => t > since);
    if (times.length === 0) this.events.delete(key);
    return times;
  }
}
