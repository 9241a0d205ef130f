import { SlidingWindow, type WindowLimit } from '../limits/sliding-window.ts';

/** Failed authentications allowed per client address within `windowMs` before it is refused. */
export type AuthFailureLimit = WindowLimit;

export const DEFAULT_AUTH_FAILURE_LIMIT: AuthFailureLimit = { max: 10, windowMs: 60_000 };

/**
 * Failed authentications per client address (a sliding window): an address with `max` failures
 * within the last `windowMs` is refused whatever token it sends, until its oldest failure leaves
 * the window. Successes and refused requests are never recorded.
 */
export class AuthFailures extends SlidingWindow {
  constructor(limit: AuthFailureLimit = DEFAULT_AUTH_FAILURE_LIMIT, now: () => number = Date.now) {
    super(limit, now);
  }

  failed(ip: string): void {
    this.record(ip);
  }
}
