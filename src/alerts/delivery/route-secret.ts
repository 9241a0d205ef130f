import { RouteRejectedError } from '../../delivery/delivery-errors.ts';

/** A secret as the config file writes it: the value, or the environment variable holding it. */
export type SecretSetting = string | { env: string };

/**
 * The secret's value, read at use (so a rotated variable needs no config change). Throws
 * `RouteRejectedError` `secret_missing` naming the route, the setting and the variable, never
 * a value.
 */
export function resolveSecret(secret: SecretSetting, where: { route: string; setting: string }, env: NodeJS.ProcessEnv = process.env): string {
  if (typeof secret === 'string') return secret;
  const value = env[secret.env];
  if (value === undefined || value === '') {
    throw new RouteRejectedError('secret_missing', `route ${where.route}: ${where.setting} is read from the environment variable ${secret.env}, which is not set`);
  }
  return value;
}
