import type { BreakerName, Breakers } from './breakers.ts';

/**
 * A command that exits non-zero within this long failed before doing any work: it is broken or
 * cannot reach what it needs (its breaker counts it). A failure after longer is the work's own
 * (tests that fail, a conflict the resolver could not settle) and never counts.
 */
export const FAST_FAILURE_MS = 2_000;

/** Carries a counted result through the breaker (cockatiel counts only thrown errors). */
class FailedFast<T> extends Error {
  constructor(readonly result: T, why: string) { super(why); }
}

/**
 * Runs `fn` through breaker `name`/`key`; a result `failedFast` says is bad counts as a failure
 * of the outside thing, and is still returned as it came. While the breaker is open,
 * `CircuitOpenError` (`circuit_open`, retryable) is thrown without calling `fn`. Without
 * `breakers`, just `fn()`.
 */
export async function throughBreaker<T>(
  breakers: Breakers | undefined, name: BreakerName, key: string, fn: () => Promise<T>, failedFast: (result: T) => boolean,
  /** What the breaker shows as its last failure (`omoi status`, `breaker.state`, `circuit_open` messages). */
  describe: (result: T) => string = () => `failed within ${FAST_FAILURE_MS} ms`,
): Promise<T> {
  if (!breakers) return fn();
  try {
    return await breakers.run(name, key, async () => {
      const result = await fn();
      if (failedFast(result)) throw new FailedFast(result, describe(result));
      return result;
    }, (err) => err instanceof FailedFast);
  } catch (err) {
    if (err instanceof FailedFast) return err.result as T;
    throw err;
  }
}

/** The program of a shell command (its first word): the key of its breaker. */
export function programOf(command: string): string {
  return command.trim().split(/\s+/)[0] || command;
}
