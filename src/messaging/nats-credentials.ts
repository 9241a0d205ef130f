import fs from 'node:fs';
import { credsAuthenticator, errors, nkeyAuthenticator, type ConnectionOptions } from '@nats-io/nats-core';
import type { OmoiConfig } from '../config/index.ts';
import { OmoiError } from '../errors.ts';

/**
 * How a process authenticates to NATS: at most one of user+password, token, nkey seed file,
 * creds file; optional TLS files; optional inbox prefix (a user allowed to subscribe only to
 * `<prefix>.>` must use it for every request it makes). Secrets live only here and in the
 * connect options: never in a log line or an error message.
 */
export interface NatsCredentials {
  user?: string;
  password?: string;
  token?: string;
  /** Path of an nkey seed file. */
  nkeyFile?: string;
  /** Path of a `.creds` file. */
  credsFile?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  inboxPrefix?: string;
}

/** The credentials the configuration names (the `NATS_*` settings), undefined fields left out. */
export function credentialsOf(config: Pick<OmoiConfig, 'natsUser' | 'natsPassword' | 'natsToken' | 'natsNkey' | 'natsCreds' | 'natsCa' | 'natsCert' | 'natsKey' | 'natsInboxPrefix'>): NatsCredentials {
  return dropUndefined({
    user: config.natsUser, password: config.natsPassword, token: config.natsToken,
    nkeyFile: config.natsNkey, credsFile: config.natsCreds,
    caFile: config.natsCa, certFile: config.natsCert, keyFile: config.natsKey,
    inboxPrefix: config.natsInboxPrefix,
  });
}

/** True if `creds` says how to authenticate (not just TLS trust or an inbox prefix). */
export function authenticates(creds: NatsCredentials): boolean {
  return Boolean(creds.user || creds.token || creds.nkeyFile || creds.credsFile || creds.certFile);
}

/**
 * The nats.js connect options for `creds`. Key files are read here, at connect time, so a
 * rotated file is picked up by the next connection; the seed is read again at each
 * reconnect (nats.js calls the function).
 */
export function connectOptionsOf(creds: NatsCredentials): Partial<ConnectionOptions> {
  const opts: Partial<ConnectionOptions> = {};
  if (creds.user) Object.assign(opts, { user: creds.user, pass: creds.password });
  if (creds.token) opts.token = creds.token;
  if (creds.nkeyFile) {
    const file = creds.nkeyFile;
    opts.authenticator = nkeyAuthenticator(() => new TextEncoder().encode(readSeed(file)));
  }
  if (creds.credsFile) opts.authenticator = credsAuthenticator(fs.readFileSync(creds.credsFile));
  if (creds.caFile || creds.certFile) {
    opts.tls = dropUndefined({ caFile: creds.caFile, certFile: creds.certFile, keyFile: creds.keyFile });
  }
  if (creds.inboxPrefix) opts.inboxPrefix = creds.inboxPrefix;
  return opts;
}

/** The seed in an nkey file: the line starting with `SU` (a user seed); comments allowed. */
function readSeed(file: string): string {
  const seed = fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).find((l) => l.startsWith('SU'));
  if (!seed) throw new OmoiError('nats_nkey_invalid', `${file} holds no user nkey seed (a line starting with SU)`);
  return seed;
}

/**
 * `err` from a first connect, translated: the server refusing the credentials becomes
 * `OmoiError` `nats_auth_failed` (naming the user or kind of credential, never a secret);
 * anything else is returned unchanged.
 */
export function authFailure(err: unknown, url: string, creds: NatsCredentials): unknown {
  if (!(err instanceof errors.AuthorizationError || err instanceof errors.UserAuthenticationExpiredError)) return err;
  return new OmoiError(
    'nats_auth_failed',
    `NATS refused the credentials at ${url} (${describe(creds)}): ${err.message}; check NATS_USER/NATS_PASSWORD, NATS_TOKEN, NATS_NKEY or NATS_CREDS`,
    { url },
    { cause: err },
  );
}

/** Which credentials were used, for messages: a user's name, else only the kind. */
export function describe(creds: NatsCredentials): string {
  if (creds.user) return `user ${JSON.stringify(creds.user)}`;
  if (creds.token) return 'a token';
  if (creds.nkeyFile) return `the nkey in ${creds.nkeyFile}`;
  if (creds.credsFile) return `the creds in ${creds.credsFile}`;
  if (creds.certFile) return `the TLS certificate ${creds.certFile}`;
  return 'no credentials';
}

function dropUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
