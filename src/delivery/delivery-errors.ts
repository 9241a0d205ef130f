import { RetryableError, TerminalError } from '../errors.ts';

/** What a route answered (HTTP status and body excerpt, or the SMTP server's reply line). */
export interface RouteReply { httpStatus?: number; answer?: string }

/**
 * The route did not take the notification but may later: connection refused, no answer within
 * the timeout, HTTP 408, 429 or 5xx, an SMTP 4xx. The delivery is tried again with backoff,
 * and the failure counts towards the route's breaker.
 * Codes: `route_unavailable`, `route_timeout`.
 */
export class RouteUnavailableError extends RetryableError {
  override name = 'RouteUnavailableError';
  constructor(code: 'route_unavailable' | 'route_timeout', message: string, readonly reply: RouteReply = {}) {
    super(code, message, { ...reply });
  }
}

/**
 * The notification cannot be delivered through this route as it is configured: trying again
 * cannot help, so the delivery fails at once (and the route's breaker does not count it).
 * Codes: `route_refused` (HTTP 4xx other than 408/429, an SMTP 5xx), `secret_missing` (a
 * `{ env }` secret whose variable is unset), `route_unknown` (no route of that name configured),
 * `subscription_inactive` (the webhook subscription was removed).
 */
export class RouteRejectedError extends TerminalError {
  override name = 'RouteRejectedError';
  constructor(
    code: 'route_refused' | 'secret_missing' | 'route_unknown' | 'subscription_inactive', message: string, readonly reply: RouteReply = {},
    /** false: no call was made (the route or subscription is gone); the attempt is not counted. */
    readonly attempted = true,
  ) {
    super(code, message, { ...reply });
  }
}
