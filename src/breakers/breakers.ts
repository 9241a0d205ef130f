import { BrokenCircuitError, CircuitState, circuitBreaker, ConsecutiveBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { errorMessage, RetryableError } from '../errors.ts';

/**
 * What Omoi calls outside itself, each behind circuit breakers (one per name and key, e.g.
 * `git_remote` + the remote's URL). A fixed set: it is a metric label.
 */
export const BREAKER_NAMES = ['git_remote', 'webhook', 'smtp', 'resolver', 'agent_command'] as const;
export type BreakerName = (typeof BREAKER_NAMES)[number];

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerChange {
  breaker: BreakerName;
  /** What is called (a remote URL without credentials, a route name, a command name). */
  key: string;
  state: BreakerState;
  /** The failure that opened it. */
  reason?: string;
}

export interface BreakerOptions {
  /** Consecutive failures that open a breaker (default 5). */
  threshold?: number;
  /** Time an open breaker waits before it lets one trial call through (default 30 s). */
  halfOpenAfterMs?: number;
  /** Told of every state change (events, metrics, alerts); must not throw. */
  onChange?: (change: BreakerChange) => void;
}

/** An open breaker refused the call without making it: retry later, the dependency is down. */
export class CircuitOpenError extends RetryableError {
  override name = 'CircuitOpenError';
  constructor(readonly breaker: BreakerName, readonly key: string, lastFailure: string | undefined) {
    super('circuit_open', `${breaker} ${key} is failing (${lastFailure ?? 'repeated failures'}): not called until the breaker half-opens`, { breaker, key });
  }
}

interface BreakerEntry { policy: CircuitBreakerPolicy; name: BreakerName; key: string; lastFailure?: string; since: Date }

const STATES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed', [CircuitState.Open]: 'open', [CircuitState.HalfOpen]: 'half_open', [CircuitState.Isolated]: 'open',
};

/**
 * The node's circuit breakers (cockatiel), created on first use per name and key. `run` makes
 * the call through its breaker; failures for which `counts` is false (the caller's own fault,
 * e.g. a merge conflict) pass through without counting.
 */
export class Breakers {
  private readonly policies = new Map<string, BreakerEntry>();
  constructor(private readonly opts: BreakerOptions = {}) {}

  async run<T>(name: BreakerName, key: string, fn: () => Promise<T>, counts: (err: Error) => boolean = () => true): Promise<T> {
    const entry = this.entry(name, key, counts);
    try {
      return await entry.policy.execute(fn);
    } catch (err) {
      if (err instanceof BrokenCircuitError) throw new CircuitOpenError(name, key, entry.lastFailure);
      throw err;
    }
  }

  /** Every breaker used so far, with its state (for `/metrics`, `omoi status`, the API). */
  states(): Array<{ breaker: BreakerName; key: string; state: BreakerState; since: Date; last_failure?: string }> {
    return [...this.policies.values()].map((e) => ({ breaker: e.name, key: e.key, state: STATES[e.policy.state], since: e.since, last_failure: e.lastFailure }));
  }

  private entry(name: BreakerName, key: string, counts: (err: Error) => boolean) {
    const id = `${name}\u0000${key}`;
    let entry = this.policies.get(id);
    if (entry) return entry;
    const policy = circuitBreaker(handleWhen(counts), {
      halfOpenAfter: this.opts.halfOpenAfterMs ?? 30_000,
      breaker: new ConsecutiveBreaker(this.opts.threshold ?? 5),
    });
    const made: BreakerEntry = { policy, name, key, since: new Date() };
    const changed = (state: BreakerState) => {
      made.since = new Date();
      try { this.opts.onChange?.({ breaker: name, key, state, reason: state === 'open' ? made.lastFailure : undefined }); } catch { /* observers never break calls */ }
    };
    policy.onFailure(({ reason }) => { if ('error' in reason) made.lastFailure = errorMessage(reason.error); });
    policy.onBreak(() => changed('open'));
    policy.onHalfOpen(() => changed('half_open'));
    policy.onReset(() => changed('closed'));
    this.policies.set(id, made);
    return made;
  }
}
