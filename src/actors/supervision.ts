/**
 * One-for-one supervision with exponential backoff and a restart budget.
 *
 * A crashing entity actor is restarted (its in-memory state dropped, re-hydrated from
 * PostgreSQL on its next message) after `backoff(n) = min(base · 2^(n-1), max)` ms, where n
 * counts its restarts inside the sliding window. The (max+1)-th crash inside the window is
 * not restarted: it escalates to the parent, which marks the entity failed with the reason
 * and raises an alert. Every crash, restart and escalation is reported to `onEvent`.
 */
export interface SupervisionOptions {
  restartMax: number;
  restartWindowMs: number;
  restartBackoffMs: number;
  restartBackoffMaxMs: number;
}

export type SupervisionDecision = { action: 'restart'; restarts: number; backoffMs: number } | { action: 'escalate'; restarts: number };

export class RestartBudget {
  private readonly crashes = new Map<string, number[]>();

  constructor(
    private readonly opts: SupervisionOptions,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Records a crash of `key` and decides what happens next. */
  crashed(key: string): SupervisionDecision {
    const now = this.clock();
    const recent = (this.crashes.get(key) ?? []).filter((t) => now - t < this.opts.restartWindowMs);
    recent.push(now);
    this.crashes.set(key, recent);
    const restarts = recent.length;
    if (restarts > this.opts.restartMax) {
      this.crashes.delete(key);
      return { action: 'escalate', restarts: restarts - 1 };
    }
    const backoffMs = Math.min(this.opts.restartBackoffMs * 2 ** (restarts - 1), this.opts.restartBackoffMaxMs);
    return { action: 'restart', restarts, backoffMs };
  }

  forget(key: string): void {
    this.crashes.delete(key);
  }
}
