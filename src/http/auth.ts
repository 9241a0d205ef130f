import { createHash, timingSafeEqual } from 'node:crypto';
import { TerminalError } from '../errors.ts';

/**
 * Checks `Authorization: Bearer <token>` against the node's API token. Both sides are hashed
 * first so the comparison is constant-time and does not leak the token's length.
 * Throws a 401 `unauthorized` TerminalError when the header is missing, malformed or wrong.
 */
export function requireBearer(header: string | string[] | undefined, apiToken: string): void {
  if (typeof header !== 'string' || header === '') {
    throw unauthorized('missing Authorization header; send "Authorization: Bearer <api token>"');
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized('Authorization header must be "Bearer <api token>"');
  if (!timingSafeEqual(digest(match[1]!), digest(apiToken))) throw unauthorized('wrong API token');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

function unauthorized(message: string): TerminalError {
  return new TerminalError('unauthorized', message, { field: 'headers.authorization' }, 401);
}
