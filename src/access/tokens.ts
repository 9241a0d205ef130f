import { createHash, randomBytes } from 'node:crypto';

/** Every generated token starts with this, so a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = 'omoi_';

/** A new random token: the prefix and 32 random bytes, base64url. Shown once, stored only hashed. */
export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** The stored form of a token: sha256, hex. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}
