import type { Principal, PrincipalStore } from '../access/index.ts';
import { TerminalError } from '../errors.ts';

/**
 * The principal behind `Authorization: Bearer <token>`. The token is looked up by its sha256
 * (`omoi_principal.token_hash`), so its bytes are never compared. Throws a 401 `unauthorized`
 * TerminalError when the header is missing or malformed, or the token unknown or revoked; the
 * message never repeats the token.
 */
export async function authenticate(header: string | string[] | undefined, principals: PrincipalStore): Promise<Principal> {
  if (typeof header !== 'string' || header === '') {
    throw unauthorized('missing Authorization header; send "Authorization: Bearer <api token>"');
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw unauthorized('Authorization header must be "Bearer <api token>"');
  const principal = await principals.authenticate(match[1]!);
  if (!principal) throw unauthorized('unknown or revoked API token');
  return principal;
}

function unauthorized(message: string): TerminalError {
  return new TerminalError('unauthorized', message, { field: 'headers.authorization' }, 401);
}
